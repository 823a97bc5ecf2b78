;; Many text2wave runs in one festival process (loaded by chunk-job after
;; init.scm and before the voice): (sdd_say TEXTFILE WAVFILE STRETCH FAILFILE)
;; synthesises TEXTFILE with Duration_Stretch STRETCH and writes WAVFILE the
;; way /usr/bin/text2wave does (RIFF, every utterance of the text appended, the
;; header rewritten with the total length), so the output is the same as
;; `text2wave -eval (voice_V) -eval (Parameter.set 'Duration_Stretch R)` gives;
;; when the voice fails on a text it creates FAILFILE and the next call runs.
;; Voices that draw random numbers (the Czech one varies its prosody with
;; rand) get, for every text, the random state of a fresh festival: the C
;; library's default seed, and the Czech voice's range recomputed.
(defvar sdd_fp nil)
(defvar sdd_n 0)
(defvar sdd_utt nil)
(define (sdd_save utt)
  (if (eq? sdd_n 0)
      (wave.save.header sdd_fp (utt.wave utt) 'riff nil (list (list "numsamples" 0))))
  (set! sdd_n (+ sdd_n (get_param 'num_samples (wave.info (utt.wave utt)) 0)))
  (wave.save.data.fp (utt.wave utt) sdd_fp 'riff nil)
  (set! sdd_utt utt))
(set! tts_hooks (list utt.synth sdd_save))
(define (sdd_say txt out stretch failed)
  (srand 1)
  (if (boundp 'czech-rand-range) (set! czech-rand-range nil))
  (Parameter.set 'Duration_Stretch stretch)
  (set! sdd_fp (fopen out "wb"))
  (set! sdd_n 0)
  (set! sdd_utt nil)
  (unwind-protect
    (begin
      (tts_file txt (tts_find_text_mode txt auto-text-mode-alist))
      (fseek sdd_fp 0 0)
      (wave.save.header sdd_fp (utt.wave sdd_utt) 'riff nil (list (list "numsamples" sdd_n)))
      (fclose sdd_fp))
    (begin
      (fclose sdd_fp)
      (fclose (fopen failed "w")))))
