/* The .pth reader with objects outside its allow-list (io/pickle.h): next to
 * the state dict they become inert placeholders (argparse.Namespace rebuilt
 * with NEWOBJ + BUILD, a defaultdict filled by SETITEMS, a set by REDUCE, a
 * list subclass by APPEND(S), NEWOBJ_EX), and a tensor reachable only through
 * them is never loaded (its storage is not even in the archive); inside the
 * state dict, at any depth, they are refused with one line naming the key and
 * the class. Then the synthetic fairseq xlsr2_300m.pt-layout checkpoint of
 * tools/reference/xlsr_fairseq_fixture.py (real omegaconf DictConfig, numpy
 * scalars, enums, optimizer tensors): only "model" is read. */
#include "check.h"
#include "pickle_craft.h"
#include "io/pth.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256];

static int crafted(const pk *p, sdd_tensorset *ts, sdd_pth_info *info, sdd_err *e)
{
    if (make_pth(path, p, NULL) < 0) return sdd_err_set(e, "test: cannot write zip");
    return sdd_pth_load_ex(path, ts, info, e);
}

/* {"model": {"w": tensor(storage 0, offset 1, size 3)}} after PK(p, "\x80\x02}(") and other keys */
static void model_w(pk *p)
{
    pk_str(p, "model");
    PK(p, "}(");
    pk_str(p, "w");
    pk_tensor(p, "0", 4, 1, 3);
    PK(p, "u");
}

static void test_skipped(void)
{
    pk p = {{0}, 0};
    PK(&p, "\x80\x02}(");
    /* args = argparse.Namespace(lr=0.5, t=<tensor on storage '9', absent from the zip>) */
    pk_str(&p, "args");
    PK(&p, "cargparse\nNamespace\n)\x81}(");
    pk_str(&p, "lr");
    PK(&p, "G?\xe0\x00\x00\x00\x00\x00\x00");
    pk_str(&p, "t");
    pk_tensor(&p, "9", 4, 0, 4);
    PK(&p, "ub");
    /* a defaultdict(list) with items, a set, a list subclass with items, NEWOBJ_EX */
    pk_str(&p, "extra");
    PK(&p, "ccollections\ndefaultdict\nc__builtin__\nlist\n\x85R(");
    pk_str(&p, "a");
    PK(&p, "K\x01u");
    pk_str(&p, "hist");
    PK(&p, "c__builtin__\nset\n](K\x01K\x02" "e\x85R");
    pk_str(&p, "lst");
    PK(&p, "cmylib\nMyList\n)\x81(K\x01K\x02" "eK\x03" "a");
    pk_str(&p, "ex");
    PK(&p, "cmylib\nThing\n)}\x92");
    model_w(&p);
    PK(&p, "u.");
    sdd_tensorset ts;
    sdd_pth_info info;
    sdd_err e;
    CHECK_MSG(crafted(&p, &ts, &info, &e) == 0, "%s", e.msg);
    const sdd_ntensor *t = sdd_tensorset_find(&ts, "w");
    CHECK(ts.n == 1 && t && t->ndim == 1 && t->shape[0] == 3 && ((const float *)t->data)[0] == 2.0f);
    CHECK(!strcmp(info.source_key, "model"));
    sdd_tensorset_free(&ts);
}

static void test_refused(void)
{
    struct { const char *name, *want; pk p; } c[4];
    memset(c, 0, sizeof c);
    /* inside the chosen state dict, one level down */
    c[0].name = "nested";
    c[0].want = "the state dict ('model') holds an instance of unknown GLOBAL 'argparse.Namespace' under key 'meta'";
    PK(&c[0].p, "\x80\x02}(");
    pk_str(&c[0].p, "model");
    PK(&c[0].p, "}(");
    pk_str(&c[0].p, "w");
    pk_tensor(&c[0].p, "0", 4, 1, 3);
    pk_str(&c[0].p, "meta");
    PK(&c[0].p, "](cargparse\nNamespace\n)\x81" "eu");
    PK(&c[0].p, "u.");
    /* a bare unknown GLOBAL next to the tensors of a top-level state dict */
    c[1].name = "global";
    c[1].want = "the state dict holds unknown GLOBAL 'os.system' under key 'x'";
    PK(&c[1].p, "\x80\x02}(");
    pk_str(&c[1].p, "w");
    pk_tensor(&c[1].p, "0", 4, 1, 3);
    pk_str(&c[1].p, "x");
    PK(&c[1].p, "cos\nsystem\nu.");
    /* "model" itself outside the allow-list */
    c[2].name = "model";
    c[2].want = "'model' is an instance of unknown GLOBAL 'argparse.Namespace', not a dict";
    PK(&c[2].p, "\x80\x02}(");
    pk_str(&c[2].p, "model");
    PK(&c[2].p, "cargparse\nNamespace\n)\x81u.");
    /* NEWOBJ_EX is only for placeholders */
    c[3].name = "newobj_ex";
    c[3].want = "NEWOBJ_EX of a global";
    PK(&c[3].p, "\x80\x02" "ccollections\nOrderedDict\n)}\x92.");
    for (int k = 0; k < 4; k++) {
        sdd_tensorset ts;
        sdd_err e;
        CHECK_MSG(crafted(&c[k].p, &ts, NULL, &e) == -1 && ts.n == 0, "%s: accepted", c[k].name);
        CHECK_STR_CONTAINS(e.msg, c[k].want);
        CHECK_MSG(!strncmp(e.msg, path, strlen(path)) && !strchr(e.msg, '\n'), "%s: '%s' does not name the file on one line", c[k].name, e.msg);
    }
}

static void test_fairseq_fixture(void)
{
    sdd_tensorset ts, fx;
    sdd_pth_info info;
    sdd_err e;
    const char *f = "tests/data/xlsr/fairseq_full.pt";
    CHECK_MSG(sdd_pth_load_ex(f, &ts, &info, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(info.source_key, "model") && info.skipped == 0);
    /* exactly the tensors of fairseq.pt's "model" (the plain-dict layout), same bits */
    CHECK_MSG(sdd_pth_load("tests/data/xlsr/fairseq.pt", &fx, &e) == 0, "%s", e.msg);
    CHECK_MSG(ts.n == fx.n && ts.n > 30, "%d tensors, fairseq.pt has %d", ts.n, fx.n);
    for (int i = 0; i < fx.n; i++) {
        const sdd_ntensor *a = &fx.t[i], *b = sdd_tensorset_find(&ts, a->name);
        CHECK_MSG(b && b->nbytes == a->nbytes && !memcmp(a->data, b->data, a->nbytes), "%s differs", a->name);
    }
    /* nothing from args (init_tensor) or last_optimizer_state (exp_avg) */
    CHECK(!sdd_tensorset_find(&ts, "init_tensor") && !sdd_tensorset_find(&ts, "exp_avg"));
    sdd_tensorset_free(&ts);
    sdd_tensorset_free(&fx);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/sdd-test-pth-opaque-%d.pth", (int)getpid());
    test_skipped();
    test_refused();
    test_fairseq_fixture();
    unlink(path);
    return CHECK_DONE("test_pth_opaque");
}
