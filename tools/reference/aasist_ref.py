"""Independent PyTorch reference of AASIST / AASIST-L for testing sdd.

Written from the facts in shared/docs/reference-spec.md section 1. The module
tree is laid out so that the state-dict keys are exactly those of the released
checkpoints (models/AASIST.pth, models/AASIST-L.pth), which load with
strict=True.

Behaviour reproduced on purpose (it is what the released weights were trained
with):
  * the sinc front end is fixed: 70 mel-spaced band-pass filters of length 129,
    band edges computed in float64, the filter taps rounded to float32 (the
    filters are not a parameter and not in the state dict);
  * in residual blocks 1-5, bn1 + SELU are evaluated on the block input and the
    result is thrown away (conv1 reads the raw block input). In train mode this
    still updates bn1's running statistics; bn1 never receives a gradient;
  * the HS-GAL master nodes master1/master2 (1,1,D) are passed unexpanded and
    broadcast over the batch;
  * graph pooling keeps the top-k nodes in descending score order and returns
    h*score gathered.

Usage:
    from aasist_ref import build_model
    m = build_model("AASIST")                  # or "AASIST-L"
    m.load_state_dict(torch.load(path), strict=True)
    hidden, logits = m(wave)                   # wave: (B, L)
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "AASIST": dict(
        filts=[70, [1, 32], [32, 32], [32, 64], [64, 64]],
        gat_dims=[64, 32],
        pool_ratios=[0.5, 0.7, 0.5, 0.5],
        temperatures=[2.0, 2.0, 100.0, 100.0],
        first_conv=128,
        nb_samp=64600,
    ),
    "AASIST-L": dict(
        filts=[70, [1, 32], [32, 32], [32, 24], [24, 24]],
        gat_dims=[24, 32],
        pool_ratios=[0.4, 0.5, 0.7, 0.5],
        temperatures=[2.0, 2.0, 100.0, 100.0],
        first_conv=128,
        nb_samp=64600,
    ),
}


# --------------------------------------------------------------------------
# Sinc front end
# --------------------------------------------------------------------------

def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def sinc_band_edges(n_filters=70, sample_rate=16000, nfft=512):
    """Band edges in Hz (float64, n_filters+1 values), mel-spaced between the
    mel values of 0 Hz and sample_rate/2."""
    f = (sample_rate // 2) * np.linspace(0.0, 1.0, nfft // 2 + 1)
    mel = hz_to_mel(f)
    edges_mel = np.linspace(mel.min(), mel.max(), n_filters + 1)
    return mel_to_hz(edges_mel)


def sinc_filters(n_filters=70, kernel_size=128, sample_rate=16000):
    """The fixed band-pass filter bank, float32 array (n_filters, K), K odd.

    Arithmetic precision follows the original construction: edges in float64;
    the support n = -(K-1)/2 .. (K-1)/2 is a float32 tensor, so the sinc
    argument 2*f*n/sr is formed in float32 (the float64 factor 2*f rounded to
    float32 first), the normalised sinc evaluated in float32, scaled by
    2*f/sr rounded to float32, and multiplied by a float32 Hamming window.
    """
    k = kernel_size + 1 if kernel_size % 2 == 0 else kernel_size
    edges = sinc_band_edges(n_filters, sample_rate)
    half = (k - 1) // 2
    n = np.arange(-half, half + 1).astype(np.float32)
    window = np.hamming(k).astype(np.float32)
    sr32 = np.float32(sample_rate)

    def lowpass(fc):
        arg = (np.float32(2.0 * fc) * n) / sr32           # float32
        s = np.sinc(arg).astype(np.float32)                 # float32 sinc
        return np.float32(2.0 * fc / sample_rate) * s       # float32

    bank = np.zeros((n_filters, k), dtype=np.float32)
    for i in range(n_filters):
        ideal = lowpass(edges[i + 1]) - lowpass(edges[i])
        bank[i] = window * ideal
    return bank


class SincFrontEnd(nn.Module):
    """Fixed sinc convolution (not a parameter, not in the state dict)."""

    def __init__(self, n_filters=70, kernel_size=128, sample_rate=16000):
        super().__init__()
        self.n_filters = n_filters
        self.filters_np = sinc_filters(n_filters, kernel_size, sample_rate)
        self.kernel = self.filters_np.shape[1]

    def forward(self, x, freq_aug=False, generator=None):
        # x: (B, 1, L)
        w = torch.from_numpy(self.filters_np).to(device=x.device, dtype=x.dtype)
        if freq_aug:
            # zero A consecutive filters, A = int(U[0,20)), start in [0, 70-A)
            a = int(torch.rand((), generator=generator).item() * 20)
            a0 = int(torch.randint(0, self.n_filters - a, (), generator=generator).item())
            w = w.clone()
            w[a0:a0 + a] = 0
        return F.conv1d(x, w.view(self.n_filters, 1, self.kernel))


# --------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------

class ResidualBlock(nn.Module):
    def __init__(self, c_in, c_out, first=False):
        super().__init__()
        self.first = first
        if not first:
            self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=(2, 3), padding=(0, 1))
        self.downsample = c_in != c_out
        if self.downsample:
            self.conv_downsample = nn.Conv2d(c_in, c_out, kernel_size=(1, 3), padding=(0, 1))

    def forward(self, x):
        if not self.first:
            # Evaluated and discarded, as in the released model: only effect is
            # the running-statistics update in train mode.
            _ = F.selu(self.bn1(x))
        y = self.conv1(x)
        y = F.selu(self.bn2(y))
        y = self.conv2(y)
        skip = self.conv_downsample(x) if self.downsample else x
        y = y + skip
        return F.max_pool2d(y, (1, 3))


# --------------------------------------------------------------------------
# Graph modules
# --------------------------------------------------------------------------

def _xavier_param(rows, cols):
    p = nn.Parameter(torch.empty(rows, cols))
    nn.init.xavier_normal_(p)
    return p


def _pairwise(x):
    """(B, N, D) -> (B, N, N, D) with [b, i, j] = x_i * x_j."""
    return x.unsqueeze(2) * x.unsqueeze(1)


def _bn_rows(bn, x):
    """BatchNorm1d over all B*N rows of a (B, N, D) tensor."""
    shape = x.shape
    return bn(x.reshape(-1, shape[-1])).reshape(shape)


class GraphAttention(nn.Module):
    """GAT layer: softmax_j(tanh(att_proj(x_i*x_j)) . w / T)."""

    def __init__(self, d_in, d_out, temperature=1.0, p_drop=0.2):
        super().__init__()
        self.att_proj = nn.Linear(d_in, d_out)
        self.att_weight = _xavier_param(d_out, 1)
        self.proj_with_att = nn.Linear(d_in, d_out)
        self.proj_without_att = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)
        self.input_drop = nn.Dropout(p_drop)
        self.temp = temperature

    def forward(self, x):
        x = self.input_drop(x)
        e = torch.tanh(self.att_proj(_pairwise(x)))          # (B,N,N,Do)
        s = torch.matmul(e, self.att_weight) / self.temp      # (B,N,N,1)
        a = torch.softmax(s, dim=-2).squeeze(-1)              # softmax over j
        y = self.proj_with_att(torch.matmul(a, x)) + self.proj_without_att(x)
        return F.selu(_bn_rows(self.bn, y))


class HeteroGraphAttention(nn.Module):
    """HS-GAL: heterogeneous (T, S) graph attention with a master node."""

    def __init__(self, d_in, d_out, temperature=1.0, p_drop=0.2):
        super().__init__()
        self.proj_type1 = nn.Linear(d_in, d_in)
        self.proj_type2 = nn.Linear(d_in, d_in)
        self.att_proj = nn.Linear(d_in, d_out)
        self.att_projM = nn.Linear(d_in, d_out)
        self.att_weight11 = _xavier_param(d_out, 1)
        self.att_weight22 = _xavier_param(d_out, 1)
        self.att_weight12 = _xavier_param(d_out, 1)
        self.att_weightM = _xavier_param(d_out, 1)
        self.proj_with_att = nn.Linear(d_in, d_out)
        self.proj_without_att = nn.Linear(d_in, d_out)
        self.proj_with_attM = nn.Linear(d_in, d_out)
        self.proj_without_attM = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)
        self.input_drop = nn.Dropout(p_drop)
        self.temp = temperature

    def forward(self, xt, xs, master):
        nt, ns = xt.shape[1], xs.shape[1]
        x = torch.cat([self.proj_type1(xt), self.proj_type2(xs)], dim=1)
        x = self.input_drop(x)

        # node attention: block-wise projection of the pairwise map
        e = torch.tanh(self.att_proj(_pairwise(x)))           # (B,N,N,Do)
        s_tt = torch.matmul(e[:, :nt, :nt], self.att_weight11)
        s_ts = torch.matmul(e[:, :nt, nt:], self.att_weight12)
        s_st = torch.matmul(e[:, nt:, :nt], self.att_weight12)
        s_ss = torch.matmul(e[:, nt:, nt:], self.att_weight22)
        s = torch.cat([torch.cat([s_tt, s_ts], dim=2),
                       torch.cat([s_st, s_ss], dim=2)], dim=1) / self.temp
        a = torch.softmax(s, dim=-2).squeeze(-1)              # (B,N,N)

        # master node attention over all nodes
        em = torch.tanh(self.att_projM(x * master))            # (B,N,Do)
        am = torch.softmax(torch.matmul(em, self.att_weightM) / self.temp, dim=-2)
        agg = torch.matmul(am.squeeze(-1).unsqueeze(1), x)     # (B,1,Di)
        new_master = self.proj_with_attM(agg) + self.proj_without_attM(master)

        y = self.proj_with_att(torch.matmul(a, x)) + self.proj_without_att(x)
        y = F.selu(_bn_rows(self.bn, y))
        return y[:, :nt], y[:, nt:], new_master


class GraphPool(nn.Module):
    def __init__(self, ratio, d_in, p_drop=0.3):
        super().__init__()
        self.ratio = ratio
        self.proj = nn.Linear(d_in, 1)
        self.drop = nn.Dropout(p_drop)

    def forward(self, h):
        score = torch.sigmoid(self.proj(self.drop(h)))          # (B,N,1)
        k = max(int(h.shape[1] * self.ratio), 1)
        _, idx = torch.topk(score, k, dim=1)                    # sorted, descending
        idx = idx.expand(-1, -1, h.shape[2])
        return torch.gather(h * score, 1, idx)


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------

class AASIST(nn.Module):
    def __init__(self, filts, gat_dims, pool_ratios, temperatures,
                 first_conv=128, nb_samp=64600):
        super().__init__()
        self.nb_samp = nb_samp
        self.conv_time = SincFrontEnd(filts[0], first_conv)
        self.first_bn = nn.BatchNorm2d(1)
        c_last = filts[-1][-1]
        self.encoder = nn.Sequential(
            nn.Sequential(ResidualBlock(filts[1][0], filts[1][1], first=True)),
            nn.Sequential(ResidualBlock(filts[2][0], filts[2][1])),
            nn.Sequential(ResidualBlock(filts[3][0], filts[3][1])),
            nn.Sequential(ResidualBlock(filts[4][0], filts[4][1])),
            nn.Sequential(ResidualBlock(filts[4][0], filts[4][1])),
            nn.Sequential(ResidualBlock(filts[4][0], filts[4][1])),
        )
        self.pos_S = nn.Parameter(torch.randn(1, 23, c_last))
        self.master1 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.master2 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        d0, d1 = gat_dims
        self.GAT_layer_S = GraphAttention(c_last, d0, temperatures[0])
        self.GAT_layer_T = GraphAttention(c_last, d0, temperatures[1])
        self.HtrgGAT_layer_ST11 = HeteroGraphAttention(d0, d1, temperatures[2])
        self.HtrgGAT_layer_ST12 = HeteroGraphAttention(d1, d1, temperatures[2])
        self.HtrgGAT_layer_ST21 = HeteroGraphAttention(d0, d1, temperatures[2])
        self.HtrgGAT_layer_ST22 = HeteroGraphAttention(d1, d1, temperatures[2])
        self.pool_S = GraphPool(pool_ratios[0], d0, 0.3)
        self.pool_T = GraphPool(pool_ratios[1], d0, 0.3)
        self.pool_hS1 = GraphPool(pool_ratios[2], d1, 0.3)
        self.pool_hT1 = GraphPool(pool_ratios[2], d1, 0.3)
        self.pool_hS2 = GraphPool(pool_ratios[2], d1, 0.3)
        self.pool_hT2 = GraphPool(pool_ratios[2], d1, 0.3)
        self.drop_way = nn.Dropout(0.2)
        self.drop = nn.Dropout(0.5)
        self.out_layer = nn.Linear(5 * d1, 2)

    def _branch(self, t, s, master, hs_a, pool_s, pool_t, hs_b):
        t1, s1, m1 = hs_a(t, s, master)
        s1 = pool_s(s1)
        t1 = pool_t(t1)
        t2, s2, m2 = hs_b(t1, s1, m1)
        return t1 + t2, s1 + s2, m1 + m2

    def forward(self, wave, freq_aug=False, generator=None):
        x = self.conv_time(wave.unsqueeze(1), freq_aug, generator)   # (B,70,L-128)
        x = F.max_pool2d(torch.abs(x.unsqueeze(1)), (3, 3))         # (B,1,23,W)
        x = F.selu(self.first_bn(x))
        e = self.encoder(x)                                          # (B,C,23,W')

        e_s = torch.max(torch.abs(e), dim=3)[0].transpose(1, 2) + self.pos_S
        out_s = self.pool_S(self.GAT_layer_S(e_s))
        e_t = torch.max(torch.abs(e), dim=2)[0].transpose(1, 2)
        out_t = self.pool_T(self.GAT_layer_T(e_t))

        t1, s1, m1 = self._branch(out_t, out_s, self.master1, self.HtrgGAT_layer_ST11,
                                  self.pool_hS1, self.pool_hT1, self.HtrgGAT_layer_ST12)
        t2, s2, m2 = self._branch(out_t, out_s, self.master2, self.HtrgGAT_layer_ST21,
                                  self.pool_hS2, self.pool_hT2, self.HtrgGAT_layer_ST22)
        t1, t2 = self.drop_way(t1), self.drop_way(t2)
        s1, s2 = self.drop_way(s1), self.drop_way(s2)
        m1, m2 = self.drop_way(m1), self.drop_way(m2)
        t = torch.maximum(t1, t2)
        s = torch.maximum(s1, s2)
        m = torch.maximum(m1, m2)

        hidden = torch.cat([
            torch.max(torch.abs(t), dim=1)[0], torch.mean(t, dim=1),
            torch.max(torch.abs(s), dim=1)[0], torch.mean(s, dim=1),
            m.squeeze(1)], dim=1)
        logits = self.out_layer(self.drop(hidden))
        return hidden, logits


def build_model(name="AASIST"):
    if name not in CONFIGS:
        raise ValueError("unknown model %r (expected one of %s)" % (name, ", ".join(CONFIGS)))
    return AASIST(**CONFIGS[name])


def disable_dropout(model):
    """Set p=0 on every dropout module (used for deterministic train-mode runs)."""
    for mod in model.modules():
        if isinstance(mod, nn.Dropout):
            mod.p = 0.0
    return model


def load_released(name, path):
    model = build_model(name)
    sd = torch.load(path, map_location="cpu")
    model.load_state_dict(sd, strict=True)
    return model


def weighted_ce(logits, labels, weight=(0.1, 0.9)):
    """CrossEntropyLoss(weight=[w_spoof, w_bonafide]) with mean reduction."""
    w = torch.tensor(weight, dtype=logits.dtype, device=logits.device)
    return F.cross_entropy(logits, labels, weight=w)


def cut_or_repeat(x, n=64600):
    """Reference dev/eval cut: first n samples; shorter clips tiled then cut."""
    x = np.asarray(x)
    if len(x) >= n:
        return x[:n]
    reps = int(n / len(x)) + 1
    return np.tile(x, reps)[:n]


if __name__ == "__main__":
    import sys
    for name, path in (("AASIST", "/work/shared/models/AASIST.pth"),
                       ("AASIST-L", "/work/shared/models/AASIST-L.pth")):
        if len(sys.argv) > 1 and name not in sys.argv[1:]:
            continue
        m = load_released(name, path).eval()
        n_par = sum(p.numel() for p in m.parameters())
        n_buf = sum(b.numel() for k, b in m.state_dict().items()
                    if "running" in k)
        with torch.no_grad():
            _, lg = m(torch.zeros(1, 64600))
        print("%s: %d parameters, %d running-stat elements, logits(0)=%s"
              % (name, n_par, n_buf, lg.numpy().tolist()))
