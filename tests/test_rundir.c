/*
 * test_rundir.c — the run directory (orchestrator/run/rundir.c): one status
 * format whoever writes it, paths, metrics lines, checkpoint rotation; and
 * the checkpoint's caller text (models.h model_save_text) the run state
 * rides in.
 */
#include "tests/harness.h"
#include "orchestrator/run/run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *status_text(const char *dir)
{
    return harness_slurp(rundir_path(dir, RUN_STATUS).s, NULL);
}

/* The trainer, the local driver, the Slurm driver and the Slurm worker all
 * write status files, with and without reasons. They once had three
 * writers, and `xover train`'s wrote "failed\n\n" for an empty reason where
 * the drivers wrote "failed\n": one writer, one format. */
TEST(rundir_status_has_one_format_whoever_writes_it)
{
    const char *dir = harness_tmpdir();
    char word[32], reason[256];
    static const struct {
        const char *word, *reason, *text, *back;
    } cases[] = {
        {"running", NULL, "running\n", ""},
        {"failed", "", "failed\n", ""},
        {"failed", "non-finite loss at step 3", "failed\nnon-finite loss at step 3\n", "non-finite loss at step 3"},
        {"pending", "submitted to Slurm", "pending\nsubmitted to Slurm\n", "submitted to Slurm"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT(rundir_set_status(dir, cases[i].word, cases[i].reason), 0);
        char *t = status_text(dir);
        CHECK_STR(t, cases[i].text);
        free(t);
        CHECK_INT(rundir_status(dir, word, sizeof word, reason, sizeof reason), 0);
        CHECK_STR(word, cases[i].word);
        CHECK_STR(reason, cases[i].back);
    }
    /* a status file an older build wrote with a blank second line reads the same */
    CHECK_INT(harness_write(rundir_path(dir, RUN_STATUS).s, "failed\n\n"), 0);
    CHECK_INT(rundir_status(dir, word, sizeof word, reason, sizeof reason), 0);
    CHECK_STR(word, "failed");
    CHECK_STR(reason, "");
    /* no status file: -1, and empty words */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/none", dir);
    CHECK_INT(rundir_status(sub, word, sizeof word, reason, sizeof reason), -1);
    CHECK_STR(word, "");
}

TEST(rundir_paths_name_every_file_and_refuse_to_cut_one_off)
{
    CHECK_STR(rundir_path("runs/s/k", RUN_METRICS).s, "runs/s/k/metrics.jsonl");
    CHECK_STR(rundir_path("d", RUN_CHECKPOINT_PREV_BAD).s, "d/checkpoint.prev.bad");
    for (int f = 0; f < RUN_NFILES; f++) CHECK(*rundir_name((run_file)f));
    /* a directory name too long for any path: "" rather than a cut-off path */
    size_t n = sizeof(run_path);
    char *dir = malloc(n);
    memset(dir, 'a', n - 1);
    dir[n - 1] = 0;
    dir[n - 12] = 0; /* fits alone, not with "/metrics.jsonl" */
    CHECK_STR(rundir_path(dir, RUN_METRICS).s, "");
    CHECK(strlen(rundir_path(dir, RUN_LOG).s) > 0);
    free(dir);
}

TEST(rundir_metrics_lines_and_cut_back)
{
    const char *dir = harness_tmpdir();
    FILE *f = fopen(rundir_path(dir, RUN_METRICS).s, "w");
    CHECK(f != NULL);
    run_point p = {3, 384, 0.125, 1.5e9};
    run_value v[] = {{"train_loss", 2.5, 0}, {"early_stop", 120, 1}};
    rundir_metrics_line(f, &p, v, 2);
    p.step = 4;
    rundir_metrics_line(f, &p, v, 1);
    fputs("{\"step\":5,\"tok", f); /* torn */
    fclose(f);
    char *t = harness_slurp(rundir_path(dir, RUN_METRICS).s, NULL);
    CHECK_STR(t, "{\"step\":3,\"tokens\":384,\"epoch\":0.125,\"flops\":1.5e+09,\"train_loss\":2.5,\"early_stop\":120}\n"
                 "{\"step\":4,\"tokens\":384,\"epoch\":0.125,\"flops\":1.5e+09,\"train_loss\":2.5}\n"
                 "{\"step\":5,\"tok");
    free(t);
    char note[400];
    CHECK_INT(rundir_cut_metrics(dir, 3, note, sizeof note), 0);
    CHECK_STR(note, ""); /* a torn end and lines past the step: expected, nothing to say */
    t = harness_slurp(rundir_path(dir, RUN_METRICS).s, NULL);
    CHECK_STR(t, "{\"step\":3,\"tokens\":384,\"epoch\":0.125,\"flops\":1.5e+09,\"train_loss\":2.5,\"early_stop\":120}\n");
    free(t);
}

/* A line that is not metrics among the lines a resume keeps was dropped
 * without a word (issue 17): the note says what went, for the log. */
TEST(rundir_cut_metrics_names_a_damaged_line_it_drops)
{
    const char *dir = harness_tmpdir();
    harness_write(rundir_path(dir, RUN_METRICS).s, "{\"step\":1,\"train_loss\":3}\n"
                                                    "{\"step\":2,\"train_lo@@garbage\n"
                                                    "{\"step\":3,\"train_loss\":2}\n"
                                                    "{\"step\":9,\"train_loss\":1}\n");
    char note[400];
    CHECK_INT(rundir_cut_metrics(dir, 5, note, sizeof note), 0);
    CHECK_CONTAINS(note, "dropped 1 line of ");
    CHECK_CONTAINS(note, "metrics.jsonl that is not metrics, before the checkpoint's step 5 (the first, line 2: "
                         "'{\"step\":2,\"train_lo@@garbage')");
    char *t = harness_slurp(rundir_path(dir, RUN_METRICS).s, NULL);
    CHECK_STR(t, "{\"step\":1,\"train_loss\":3}\n{\"step\":3,\"train_loss\":2}\n");
    free(t);
}

static model *tiny(uint64_t seed)
{
    char err[256];
    model_config c = {.layers = 1, .dim = 16, .heads = 2, .vocab = 12, .seq_len = 8, .batch = 2,
                      .objective = MODEL_AR, .mask_id = 11};
    return model_create(&c, seed, err, sizeof err);
}

TEST(rundir_checkpoints_rotate_and_a_bad_one_is_set_aside)
{
    const char *dir = harness_tmpdir();
    char err[512], text[MODEL_CKPT_TEXT], lost[2048];
    model *a = tiny(1), *b = tiny(2), *c = tiny(3);
    model_ckpt_state st = {{7, 0}, {0}}, back;
    CHECK_INT(rundir_save_checkpoint(dir, a, &st, "{\"n\":1}", err, sizeof err), 0);
    st.data_pos[0] = 8;
    CHECK_INT(rundir_save_checkpoint(dir, b, &st, "{\"n\":2}", err, sizeof err), 0);
    CHECK(access(rundir_path(dir, RUN_CHECKPOINT_PREV).s, F_OK) == 0);
    CHECK_INT(rundir_load_checkpoint(dir, c, &back, text, lost, sizeof lost), 0);
    CHECK_STR(text, "{\"n\":2}");
    CHECK_STR(lost, "");
    CHECK_INT(back.data_pos[0], 8);
    /* the newest damaged: the one before it, and the damaged one kept aside */
    char *raw;
    size_t len;
    CHECK((raw = harness_slurp(rundir_path(dir, RUN_CHECKPOINT).s, &len)) != NULL);
    raw[len / 2] ^= 1;
    FILE *f = fopen(rundir_path(dir, RUN_CHECKPOINT).s, "wb");
    fwrite(raw, 1, len, f);
    fclose(f);
    free(raw);
    CHECK_INT(rundir_load_checkpoint(dir, c, &back, text, lost, sizeof lost), 0);
    CHECK_STR(text, "{\"n\":1}");
    CHECK_INT(back.data_pos[0], 7);
    CHECK_CONTAINS(lost, "checksum");
    CHECK_CONTAINS(lost, "checkpoint.bad");
    CHECK(access(rundir_path(dir, RUN_CHECKPOINT).s, F_OK) != 0);
    CHECK(access(rundir_path(dir, RUN_CHECKPOINT_BAD).s, F_OK) == 0);
    /* none left good: start from scratch, and say what was lost */
    CHECK_INT(truncate(rundir_path(dir, RUN_CHECKPOINT_PREV).s, 100), 0);
    CHECK_INT(rundir_load_checkpoint(dir, c, &back, text, lost, sizeof lost), 1);
    CHECK_CONTAINS(lost, "checkpoint.prev.bad");
    model_free(a), model_free(b), model_free(c);
}

/* Format 3 keeps the caller's text; a checkpoint without one stays format 1
 * (which older builds read) and loads with text "". */
TEST(checkpoint_keeps_the_callers_text_verbatim)
{
    char path[4096], err[512], text[MODEL_CKPT_TEXT];
    harness_path(path, sizeof path, "ck");
    model *a = tiny(1), *b = tiny(2);
    model_ckpt_state st = {{1, 2}, {3}}, back;
    const char *t = "{\"best_val_loss\":3.7032557859533761,\"have_best\":true}";
    CHECK_INT(model_save_text(a, path, &st, t, err, sizeof err), 0);
    CHECK_INT(model_load_text(b, path, &back, text, sizeof text, err, sizeof err), 0);
    CHECK_STR(text, t);
    CHECK(back.data_pos[1] == 2 && back.extra[0] == 3);
    /* model_load reads it too (sampling needs no text) */
    CHECK_INT(model_load(b, path, &back, err, sizeof err), 0);
    char *raw = harness_slurp(path, NULL);
    int32_t ver;
    memcpy(&ver, raw + 8, 4);
    free(raw);
    CHECK_INT(ver, 3);
    /* a caller's buffer too small for the text is refused, not cut */
    char small[8];
    CHECK_INT(model_load_text(b, path, &back, small, sizeof small, err, sizeof err), -1);
    /* without a text: format 1, and the text reads back empty */
    CHECK_INT(model_save_text(a, path, &st, "", err, sizeof err), 0);
    raw = harness_slurp(path, NULL);
    memcpy(&ver, raw + 8, 4);
    free(raw);
    CHECK_INT(ver, 1);
    strcpy(text, "stale");
    CHECK_INT(model_load_text(b, path, &back, text, sizeof text, err, sizeof err), 0);
    CHECK_STR(text, "");
    /* too long a text is refused */
    char *big = malloc(MODEL_CKPT_TEXT + 1);
    memset(big, 'x', MODEL_CKPT_TEXT);
    big[MODEL_CKPT_TEXT] = 0;
    CHECK_INT(model_save_text(a, path, &st, big, err, sizeof err), -1);
    free(big);
    model_free(a), model_free(b);
}
