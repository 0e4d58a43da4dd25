-- schema.sql — the xover results database: the contract between the sweep
-- driver (the only writer), the analysis commands and a user with the plain
-- `sqlite3` shell. This file is compiled into the xover binary; it stays the
-- source of truth.
--
-- TWO PARTS. Tables and indexes are built by numbered MIGRATIONS, which are
-- append-only; every view is written once, as it is now, in the VIEWS
-- section at the end.
--
-- MIGRATIONS. Each section is opened by a line
--   -- @migration N: what it does
-- with N = 1, 2, 3, ... in order. A database records the last section applied
-- in PRAGMA user_version (and in meta.schema_version). Opening a database for
-- writing applies the missing sections in order, in one transaction, so an
-- old database is upgraded in place and a new one is built by running them
-- all. A section, once released, is never edited: change the tables by
-- appending a section (ALTER TABLE, CREATE INDEX, a fix of the data). A
-- section creates no view. (Migrations 1-4 used to create and recreate views
-- themselves; tests/fixtures/schema-5.sql keeps that text, so the tests can
-- build databases as those versions of xover left them.)
-- A database whose user_version is larger than the last section here was
-- written by a newer xover and is refused rather than misread.
--
-- VIEWS. The section opened by the line `-- @views: ...` holds only
-- CREATE VIEW statements, each view once, in its current form: change a view
-- by editing it there. A database records the SHA-256 of that section's text
-- in meta.views_hash and the views' names in meta.views. Opening a database
-- for writing, when a migration is due or the hash differs from this file's,
-- drops the views it has of those names (and of the names here) and creates
-- these, in the migrations' transaction. A read-only opener of a database
-- whose views differ gets these as TEMP views of its own connection (the file
-- is not touched), provided the database's tables carry them.
--
-- CONVENTIONS. Times are ISO-8601 UTC text ('2025-01-31T12:00:00.000Z'), so
-- they read well and sort; durations: (julianday(b) - julianday(a)) * 86400.
-- Unknown values are NULL. Metric values that were not finite are NULL.

-- @migration 1: the initial schema: meta, sweeps, runs, sweep_runs and metrics

-- Facts about the database itself, as key/value text.
--   schema_version  the last migration applied (mirrors PRAGMA user_version)
--   created_at      when migration 1 ran
--   views_hash      SHA-256 (hex) of the views section the views were made from
--   views           the names of those views, separated by spaces
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,  -- the fact's name
    value TEXT NOT NULL      -- its value, as text
);
INSERT INTO meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- A sweep: a named YAML file that expanded into runs. Running an edited file
-- under the same name updates the row (yaml, yaml_hash, updated_at).
CREATE TABLE sweeps (
    id         INTEGER PRIMARY KEY,   -- stable id, referenced by sweep_runs
    name       TEXT NOT NULL UNIQUE,  -- the YAML's `sweep:` name
    yaml       TEXT NOT NULL,         -- the YAML text as last run
    yaml_hash  TEXT NOT NULL,         -- SHA-256 (hex) of `yaml`
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), -- first seen
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))  -- last (re)registered
);

-- A run: one resolved config, trained once whatever the number of sweeps that
-- ask for it. The typed axis columns copy fields of `config` so queries need
-- no JSON; `config` stays the full truth (json_extract(config, '$.train.lr')).
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY, -- stable id, referenced by metrics and sweep_runs
    key           TEXT NOT NULL UNIQUE CHECK (key <> ''), -- SHA-256 (hex) of the canonical config: the run's identity
    config        TEXT NOT NULL CHECK (json_valid(config)), -- the resolved run config (docs/run-config.md) as JSON
    objective     TEXT,     -- 'ar' (autoregressive) or 'mdm' (masked diffusion); an external trainer's label otherwise
    model         TEXT,     -- the sweep's name for the model size ('xs', 's', ...)
    params        INTEGER,  -- parameter count of the model
    unique_tokens INTEGER,  -- the unique-token budget U
    quality       TEXT,     -- the data-quality tier's name ('all', 'high', 'low', ...)
    epochs        REAL,     -- planned training length in epochs over the U unique tokens
    seed          INTEGER,  -- the run seed
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'done', 'failed', 'interrupted')),
                            -- pending: not started; running: a worker holds it; done: finished;
                            -- failed: crashed, timed out or diverged (see error); interrupted: stopped, resumable
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0), -- how many times a worker started it
    error         TEXT,     -- why the last attempt failed (NULL unless failed)
    log_tail      TEXT,     -- the last lines of the run's log, kept for failed runs
    host          TEXT,     -- host name of the worker of the last attempt
    pid           INTEGER,  -- process id of that worker on `host`
    started_at    TEXT,     -- when the last attempt started
    finished_at   TEXT,     -- when the last attempt ended (NULL while running)
    build_id      TEXT,     -- the xover build that ran it ('0.1.0+<commit>')
    run_dir       TEXT,     -- the run's directory (config.json, metrics.jsonl, checkpoint, log)
    job_id        TEXT,     -- the batch scheduler's job id (Slurm '1234_7'); NULL for local runs
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), -- when first planned
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))  -- last change of this row
);
-- The driver asks "what is pending/failed"; analyses group and pair runs by axes.
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_axes ON runs (objective, model, unique_tokens, quality, seed);

-- Which sweeps asked for which runs (many to many: a run shared by two
-- sweeps is trained once and listed in both).
CREATE TABLE sweep_runs (
    sweep_id INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE, -- the sweep
    run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,   -- one of its runs
    PRIMARY KEY (sweep_id, run_id)
) WITHOUT ROWID;
CREATE INDEX sweep_runs_run ON sweep_runs (run_id, sweep_id);

-- Every metric point a run reported: one row per (run, metric name, step).
-- The primary key makes ingest idempotent: ingesting the same metrics.jsonl
-- twice leaves one row per point, holding the last value ingested.
-- WITHOUT ROWID: the rows live in the primary-key b-tree itself, so a run's
-- series is contiguous on disk and appending steps is an append.
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, -- the run
    name   TEXT NOT NULL,    -- metric name: train_loss, val_loss, mc_acc, lr, ...
    step   INTEGER NOT NULL, -- optimizer step at which it was measured
    tokens INTEGER,          -- training tokens seen by then
    epoch  REAL,             -- epochs over the unique tokens completed by then (fractional)
    flops  REAL,             -- cumulative training FLOPs by then
    value  REAL,             -- the measurement (NULL if it was not finite)
    PRIMARY KEY (run_id, name, step)
) WITHOUT ROWID;
-- Lets min(value)/max(value) of one series be a single seek (run_best).
CREATE INDEX metrics_value ON metrics (run_id, name, value);

-- @migration 2: crossover views: AR/MDM pairs, seed-aggregated curves and the crossover point

-- Views only (crossover_runs, crossover_curves, crossover): see the views
-- section. No table changed.

-- @migration 3: sparse models and training noise: runs.active_params (and the run_axes view)

-- Parameters a token uses (models.h model_active_param_count): for a mixture
-- of experts its top_k experts per layer and the routers, for a dense model
-- all of them. The driver fills it when it registers a run; NULL when unknown.
ALTER TABLE runs ADD COLUMN active_params INTEGER;

-- @migration 4: early-stopped runs: early_stop_margin left out of a pair's cell, and the hold

-- Views only (the early_stop row and the hold: see crossover_curves in the
-- views section). No table changed.

-- @migration 5: annealed branches: a run may be a trunk, or a branch forked from one

-- Warmup-stable-decay runs of every length share one constant-rate trunk: a
-- sweep with train.anneal_at expands into one TRUNK run (constant learning
-- rate after warmup, no cooldown) and one BRANCH run per annealing point E,
-- which starts from the trunk's checkpoint at its fork step (1 - decay_frac)
-- of E and runs its own linear cooldown to the end of E (docs/sweep.md).
-- A branch is a run like any other (key, row, directory, status, metrics);
-- its `epochs` column is its budget E, and its metrics continue the trunk's
-- step, token, epoch and FLOP counts from the fork on.
--   role       'run' (an ordinary run), 'trunk' or 'branch'
--   parent_id  for a branch, the trunk it forks from; NULL otherwise
--   fork_step  for a branch, the trunk's optimizer step it starts from
ALTER TABLE runs ADD COLUMN role TEXT NOT NULL DEFAULT 'run' CHECK (role IN ('run', 'trunk', 'branch'));
ALTER TABLE runs ADD COLUMN parent_id INTEGER REFERENCES runs (id);
ALTER TABLE runs ADD COLUMN fork_step INTEGER CHECK (fork_step IS NULL OR fork_step >= 0);
CREATE INDEX runs_parent ON runs (parent_id);

-- @migration 6: the crossover kept at ingest: each run's cell, and the crossover_by_seed rows

-- What makes the crossover view fast on a big database (10,000 runs x 1,000
-- points: README, "The results database"). Computing crossover_by_seed
-- reads every point of every pair; its rows change only when a pair's
-- points change, so xover keeps them in a table as it writes points.
--
-- crossover_member: every AR or MDM run with its cell and annealed cell (the
-- crossover_runs view says what they are), kept by the triggers below as
-- runs are added or their config changes; a run's row goes with it.
CREATE TABLE crossover_member (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE, -- the run
    cell   TEXT NOT NULL, -- its config without objective, seed, train.early_stop_margin
    acell  TEXT NOT NULL  -- the cell also without train.epochs, train.branch_of, train.anneal_at
);
CREATE INDEX crossover_member_cell ON crossover_member (cell);
CREATE INDEX crossover_member_acell ON crossover_member (acell);
CREATE TRIGGER crossover_member_insert AFTER INSERT ON runs WHEN new.objective IN ('ar', 'mdm')
BEGIN
    INSERT INTO crossover_member (run_id, cell, acell)
    VALUES (new.id, json_remove(new.config, '$.objective', '$.seed', '$.train.early_stop_margin'),
            json_remove(new.config, '$.objective', '$.seed', '$.train.early_stop_margin',
                        '$.train.epochs', '$.train.branch_of', '$.train.anneal_at'));
END;
CREATE TRIGGER crossover_member_update AFTER UPDATE OF config, objective ON runs
BEGIN
    DELETE FROM crossover_member WHERE run_id = new.id;
    INSERT INTO crossover_member (run_id, cell, acell)
    SELECT new.id, json_remove(new.config, '$.objective', '$.seed', '$.train.early_stop_margin'),
           json_remove(new.config, '$.objective', '$.seed', '$.train.early_stop_margin',
                       '$.train.epochs', '$.train.branch_of', '$.train.anneal_at')
     WHERE new.objective IN ('ar', 'mdm');
END;
INSERT INTO crossover_member (run_id, cell, acell)
SELECT id, json_remove(config, '$.objective', '$.seed', '$.train.early_stop_margin'),
       json_remove(config, '$.objective', '$.seed', '$.train.early_stop_margin',
                   '$.train.epochs', '$.train.branch_of', '$.train.anneal_at')
  FROM runs WHERE objective IN ('ar', 'mdm');

-- crossover_scope: the annealed cells being recomputed. Empty but inside
-- xover's own write transactions (so no reader ever sees a row): while it
-- holds rows, crossover_runs lists only the runs of those annealed cells
-- (whole cells: every cell lies in one annealed cell), so the views compute
-- just their pairs.
CREATE TABLE crossover_scope (
    acell TEXT PRIMARY KEY -- an annealed cell (crossover_member.acell)
);

-- crossover_cache: the rows of the crossover_by_seed view (its comment
-- says what each column means), which the crossover view reads. xover
-- (orchestrator/db/db_crossover.c) recomputes the rows of a run's annealed
-- cell, through the view, in the transaction that stores the run's metrics
-- or removes it, and all of them when the views change (a new xover) or
-- this migration runs; nothing else writes it. A tool that writes metrics
-- itself leaves the rows stale until `xover db init` rebuilds them
-- (every database xover opens for writing with stale views does).
CREATE TABLE crossover_cache (
    mode TEXT, cell_id INTEGER, seed INTEGER, metric TEXT, better TEXT, x_axis TEXT,
    ar_seeds INTEGER, mdm_seeds INTEGER, verdict TEXT, crossover REAL, bracket_lo REAL,
    bracket_hi REAL, x_start REAL, x_end REAL, final_gap REAL, gap_se REAL, ar_best REAL,
    ar_best_x REAL, ar_best_sd REAL, mdm_best REAL, mdm_best_x REAL, mdm_best_sd REAL,
    model TEXT, params INTEGER, unique_tokens INTEGER, quality TEXT, epochs REAL, cell TEXT,
    one_pair INTEGER
);
CREATE INDEX crossover_cache_key ON crossover_cache (metric, x_axis, mode, cell_id, seed);
CREATE INDEX crossover_cache_cell ON crossover_cache (cell_id);

-- @migration 7: the annealed crossover flags a best at the edge of its grid

-- Two columns of the crossover_by_seed view kept in crossover_cache (that
-- view's comment says what they mean); the views' new hash makes xover
-- compute every row again as it opens the database.
ALTER TABLE crossover_cache ADD COLUMN ar_best_at_edge INTEGER;
ALTER TABLE crossover_cache ADD COLUMN mdm_best_at_edge INTEGER;

-- @migration 8: cloze item outcomes: which items each evaluation got right

-- The 4-way cloze accuracy (mc_acc) is a share of n items; comparing two
-- runs item by item (a PAIRED difference: README, "Cloze accuracy and its
-- error") needs the items' outcomes, which the trainer writes on every
-- evaluation line of metrics.jsonl as mc_correct (docs/run-config.md). The
-- ingest of those lines keeps them here, one row per evaluation; ingesting
-- the same lines again replaces the row with the same text.
--   run_id    the run
--   step      the optimizer step of the evaluation (metrics.step: mc_acc and
--             mc_acc_se sit beside it in metrics under the same step)
--   items     n, the number of items scored
--   outcomes  "n:HEX": hex digit k holds items 4k..4k+3, item 4k+j in its
--             bit j (1: the right candidate scored best), so item i is
--             (digit i/4 >> i%4) & 1. Items are drawn deterministically from
--             the run's data config (the cloze pool, or the validation
--             documents) and cloze settings, never from its seed or
--             objective: two runs of one cell scored the same n items
--             scored the same items, in the same order.
-- From the sqlite3 shell, the share right at each evaluation of run 7:
--   SELECT step, items, outcomes FROM cloze_outcomes WHERE run_id = 7;
CREATE TABLE cloze_outcomes (
    run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step     INTEGER NOT NULL CHECK (step >= 0),
    items    INTEGER NOT NULL CHECK (items > 0),
    outcomes TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;

-- @migration 9: cloze re-scored: a run's final checkpoint scored again on more items

-- The in-training mc_acc rests on data.cloze.items (100 in most sweeps:
-- +-0.1 at 95%); resolving a 0.02 gap takes thousands of items (README,
-- "Cloze accuracy and its error"). `xover eval --cloze N` scores a run's
-- final checkpoint again on N items of a held-out cloze pool, without
-- retraining, and keeps the result here; the crossover tables prefer it
-- over the in-training outcomes when every run of a pair was re-scored on
-- one item set. Re-scoring the same run on the same items replaces its row.
--   run_id     the run (its final checkpoint)
--   item_set   which items: the data fields that decide them, the pool's
--              size among them, as compact JSON (analysis.h, an_item_set):
--              two rows with one item_set and one `items` scored the same
--              items in the same order
--   items      N, the number of items
--   step       the checkpoint's optimizer step (the run's last evaluation)
--   draws      the MDM's mask draws per candidate (NULL for AR)
--   mc_acc, mc_acc_se   the share right and its binomial standard error
--   outcomes   "N:HEX", as cloze_outcomes.outcomes
--   cpu_s      CPU seconds the scoring took
--   scored_at  when; build_id  the xover that scored it
CREATE TABLE cloze_rescored (
    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    item_set  TEXT NOT NULL,
    items     INTEGER NOT NULL CHECK (items > 0),
    step      INTEGER NOT NULL CHECK (step >= 0),
    draws     INTEGER,
    mc_acc    REAL,
    mc_acc_se REAL,
    outcomes  TEXT NOT NULL,
    cpu_s     REAL,
    scored_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    build_id  TEXT,
    PRIMARY KEY (run_id, item_set, items)
) WITHOUT ROWID;

-- @views: every view, once, in its current form (see VIEWS at the top)

-- THE RULE of what each series is and which way it improves, and the one
-- place it is written. A series (a metric name of a run) is either
--   a METRIC   an evaluation of the model, with a direction: better 'min'
--              (losses, NLL, ELBO bounds, perplexities) or 'max' (mc_acc, and
--              any name no row matches); run_best and the crossover take
--              only these;
--   a SIGNAL   of training: the learning rate, the gradient norm, the
--              training loss, the experts' balance loss and dropped share,
--              the early_stop marker; recorded and shown (run_final,
--              curves), never a "best", never crossed. Their `better` is
--              what their value would mean, or NULL where it means nothing.
--   an ERROR   NAME_se: the standard error of series NAME at the same step
--              (val_loss_se beside val_loss); recorded and shown, and read
--              beside NAME by the crossover (crossover_points.se), never a
--              metric of its own: no direction (better NULL: a smaller error
--              is a more precise measurement, not a better model), never a
--              "best", never crossed.
-- A name is looked up among the exact names first, then the patterns (LIKE
-- with ESCAPE '\', so in any case, and '\_' is a literal underscore):
--   (SELECT kind | better FROM metric_rule r WHERE name LIKE r.pattern ESCAPE '\'
--     ORDER BY instr(r.pattern, '%') LIMIT 1)
-- and a name no row matches is a metric better higher. No name ends in two
-- of the patterns' suffixes, so their order among themselves never matters.
-- The C code (db_metric_lower_better, db_metric_kind:
-- orchestrator/db/db_schema.c) asks this view, from the text of this file. A
-- rule kept as rows, not as a function registered in C, keeps every view
-- readable from the plain sqlite3 shell.
CREATE VIEW metric_rule (pattern, kind, better) AS
VALUES ('train_loss', 'signal', 'min'), ('aux_loss', 'signal', 'min'), ('lr', 'signal', NULL),
       ('grad_norm', 'signal', NULL), ('moe_dropped', 'signal', NULL), ('early_stop', 'signal', NULL),
       ('%\_se', 'error', NULL),
       ('%loss', 'metric', 'min'), ('%nll', 'metric', 'min'), ('%elbo', 'metric', 'min'),
       ('%ppl', 'metric', 'min');

-- One row per series (run, metric name), found by hopping the primary key
-- from one series to the next (a handful of index seeks per series instead of
-- a scan of every point: this is what keeps run_final and run_best fast).
--   kind       'metric' or 'signal' (metric_rule)
--   better     'min' or 'max': the direction in which it improves
--              (metric_rule; NULL for a signal whose value has none)
--   last_step  the largest step recorded
--   best_value a metric's best value in its direction (non-NULL values
--              only); NULL for a signal
CREATE VIEW metric_series AS
WITH RECURSIVE s (run_id, name) AS (
    SELECT run_id, name FROM (SELECT run_id, name FROM metrics ORDER BY run_id, name LIMIT 1)
    UNION ALL
    SELECT coalesce((SELECT m.run_id FROM metrics m
                      WHERE m.run_id = s.run_id AND m.name > s.name ORDER BY m.name LIMIT 1),
                    (SELECT m.run_id FROM metrics m
                      WHERE m.run_id > s.run_id ORDER BY m.run_id LIMIT 1)),
           coalesce((SELECT m.name FROM metrics m
                      WHERE m.run_id = s.run_id AND m.name > s.name ORDER BY m.name LIMIT 1),
                    (SELECT m.name FROM metrics m
                      WHERE m.run_id = (SELECT m2.run_id FROM metrics m2
                                         WHERE m2.run_id > s.run_id ORDER BY m2.run_id LIMIT 1)
                      ORDER BY m.name LIMIT 1))
      FROM s WHERE s.run_id IS NOT NULL
),
-- The rule looked up once per distinct name, not once per series.
rules (name, kind, better) AS MATERIALIZED (
    SELECT n.name,
           coalesce((SELECT r.kind FROM metric_rule r WHERE n.name LIKE r.pattern ESCAPE '\'
                      ORDER BY instr(r.pattern, '%') LIMIT 1), 'metric'),
           (SELECT r.better FROM metric_rule r WHERE n.name LIKE r.pattern ESCAPE '\'
             ORDER BY instr(r.pattern, '%') LIMIT 1)
      FROM (SELECT DISTINCT name FROM s WHERE run_id IS NOT NULL) n
),
d (run_id, name, kind, better) AS (
    SELECT s.run_id, s.name, u.kind,
           CASE u.kind WHEN 'metric' THEN coalesce(u.better, 'max') ELSE u.better END
      FROM s JOIN rules u ON u.name = s.name
     WHERE s.run_id IS NOT NULL
)
SELECT d.run_id, d.name, d.kind, d.better,
       (SELECT max(m.step) FROM metrics m WHERE m.run_id = d.run_id AND m.name = d.name) AS last_step,
       CASE WHEN d.kind <> 'metric' THEN NULL
           WHEN d.better = 'min' THEN (SELECT min(m.value) FROM metrics m WHERE m.run_id = d.run_id AND m.name = d.name)
           ELSE (SELECT max(m.value) FROM metrics m WHERE m.run_id = d.run_id AND m.name = d.name)
       END AS best_value
  FROM d;

-- The last point of every series, metrics and signals (kind: metric_rule),
-- with the run's axes: "where did each run end?"
CREATE VIEW run_final AS
SELECT r.id AS run_id, r.key, r.objective, r.model, r.params, r.unique_tokens, r.quality,
       r.epochs, r.seed, r.status,
       m.name, s.kind, m.step, m.tokens, m.epoch, m.flops, m.value
  FROM metric_series s
  JOIN metrics m ON m.run_id = s.run_id AND m.name = s.name AND m.step = s.last_step
  JOIN runs r ON r.id = s.run_id;

-- The best point of every METRIC series (metric_rule: signals such as lr,
-- grad_norm and train_loss have no best; see metric_series for which
-- direction is better), with the run's axes; among equal best values, the
-- earliest step. The point's step/tokens/epoch/flops say where in training
-- the best came (for AR at small budgets: the onset of overfitting).
CREATE VIEW run_best AS
SELECT r.id AS run_id, r.key, r.objective, r.model, r.params, r.unique_tokens, r.quality,
       r.epochs, r.seed, r.status,
       m.name, s.better, m.step, m.tokens, m.epoch, m.flops, m.value
  FROM metric_series s
  JOIN metrics m ON m.run_id = s.run_id AND m.name = s.name
   AND m.step = (SELECT min(x.step) FROM metrics x
                  WHERE x.run_id = s.run_id AND x.name = s.name AND x.value = s.best_value)
  JOIN runs r ON r.id = s.run_id
 WHERE s.kind = 'metric';

-- Every point of every series with the run's axes: the learning curves, one
-- row per (run, metric, step), ordered by nothing (add ORDER BY).
CREATE VIEW curves AS
SELECT r.id AS run_id, r.key, r.objective, r.model, r.params, r.unique_tokens, r.quality,
       r.epochs, r.seed, r.status,
       m.name, m.step, m.tokens, m.epoch, m.flops, m.value
  FROM metrics m
  JOIN runs r ON r.id = m.run_id;

-- One row per run with the typed axes and the mixture-of-experts and noise
-- settings of its config, absent fields read as what their absence stands
-- for (docs/run-config.md), so `SELECT ... GROUP BY experts, input_mask`
-- needs no JSON:
--   active_params    runs.active_params; for a dense run (experts 0) whose
--                    column is NULL, its params
--   experts          model.experts (0 = dense)
--   top_k            model.top_k (NULL for a dense run)
--   capacity_factor  train.capacity_factor (0 = no cap)
--   aux_loss_weight  train.aux_loss_weight (NULL for a dense run)
--   input_mask, token_dropout, attn_dropout, resid_dropout   the train.* noise rates
CREATE VIEW run_axes AS
SELECT r.id AS run_id, r.key, r.objective, r.model, r.params,
       coalesce(r.active_params, CASE WHEN x.experts = 0 THEN r.params END) AS active_params,
       x.experts,
       CASE WHEN x.experts > 0 THEN coalesce(json_extract(r.config, '$.model.top_k'), 1) END AS top_k,
       coalesce(json_extract(r.config, '$.train.capacity_factor'), 0) AS capacity_factor,
       CASE WHEN x.experts > 0 THEN coalesce(json_extract(r.config, '$.train.aux_loss_weight'), 0.01)
       END AS aux_loss_weight,
       coalesce(json_extract(r.config, '$.train.input_mask'), 0) AS input_mask,
       coalesce(json_extract(r.config, '$.train.token_dropout'), 0) AS token_dropout,
       coalesce(json_extract(r.config, '$.train.attn_dropout'), 0) AS attn_dropout,
       coalesce(json_extract(r.config, '$.train.resid_dropout'), 0) AS resid_dropout,
       r.unique_tokens, r.quality, r.epochs, r.seed, r.status
  FROM runs r
  JOIN (SELECT id, coalesce(json_extract(config, '$.model.experts'), 0) AS experts FROM runs) x
    ON x.id = r.id;

-- One row per run, as users of MLflow, W&B or Optuna expect a runs table:
-- the run, its sweeps, its swept settings and its results side by side.
--   run_id, key, role, status
--   sweeps          the sweeps that list it, by name, comma-separated
--   objective, model, params, active_params, unique_tokens, quality, epochs,
--   seed            the fixed axes (as run_axes)
--   lr, weight_decay, schedule, batch, seq_len, layers, dim, heads, experts,
--   top_k, input_mask, token_dropout, attn_dropout, resid_dropout,
--   early_stop_margin, corpus, vocab
--                   config fields sweeps vary, typed, an absent field read as
--                   what its absence stands for (docs/run-config.md)
--   varied          EVERY config field that varies among the runs of the
--                   run's sweeps, with this run's value, as a JSON object keyed
--                   by dotted path: {"objective": "ar", "train.lr": 0.002}
--                   (json_extract(varied, '$."train.lr"')). A field some of a
--                   sweep's runs lack counts as varying; one this run lacks
--                   is left out of its object; {} for a run of no sweep.
--                   The one costly column: it reads every config of every
--                   sweep (about 0.5 s of CPU per 10,000 runs), and only
--                   when it is selected.
--   final_val_loss, final_val_loss_epoch, best_val_loss, best_val_loss_epoch,
--   final_mc_acc, final_mc_acc_epoch, best_mc_acc, best_mc_acc_epoch
--                   the last and the best value (metric_rule's direction;
--                   among equal best values the earliest) and their epochs
--   early_stop_epoch  the epoch at which the run stopped early, else NULL
--   wall_s          seconds its last attempt took (NULL until it ended)
-- Why a fixed set AND a JSON column: a view's columns are fixed when it is
-- written, while what a sweep varies is data. The typed columns cover what
-- the experiments vary; `varied` names exactly what each sweep varies, any
-- field at all (external trainers' flags too).
CREATE VIEW run_summary AS
WITH varying (sweep_id, path) AS MATERIALIZED (
    -- Every leaf of every config of every sweep: a path varies in a sweep when
    -- it has two values there, or some of the sweep's runs lack it.
    SELECT l.sweep_id, l.path
      FROM (SELECT sr.sweep_id, replace(substr(t.fullkey, 3), '"', '') AS path, t.atom AS value
              FROM sweep_runs sr JOIN runs r ON r.id = sr.run_id, json_tree(r.config) t
             WHERE t.type NOT IN ('object', 'array')) l
     GROUP BY l.sweep_id, l.path
    HAVING min(l.value) IS NOT max(l.value)
        OR count(*) < (SELECT count(*) FROM sweep_runs n WHERE n.sweep_id = l.sweep_id)
),
rule (name, better) AS (
    SELECT n.name, coalesce((SELECT r.better FROM metric_rule r WHERE n.name LIKE r.pattern ESCAPE '\'
                              ORDER BY instr(r.pattern, '%') LIMIT 1), 'max')
      FROM (SELECT 'val_loss' AS name UNION ALL SELECT 'mc_acc') n
),
-- Each value is found by index seeks, never by reading a series: the last
-- step on the primary key, the best value and its first step on
-- metrics_value (run_id, name, value), then the point itself.
best (run_id, vl_last, vl_best, mc_last, mc_best, stop_step) AS (
    SELECT r.id,
           (SELECT max(step) FROM metrics m WHERE m.run_id = r.id AND m.name = 'val_loss'),
           CASE (SELECT better FROM rule WHERE name = 'val_loss')
                WHEN 'min' THEN (SELECT min(value) FROM metrics m WHERE m.run_id = r.id AND m.name = 'val_loss')
                ELSE (SELECT max(value) FROM metrics m WHERE m.run_id = r.id AND m.name = 'val_loss') END,
           (SELECT max(step) FROM metrics m WHERE m.run_id = r.id AND m.name = 'mc_acc'),
           CASE (SELECT better FROM rule WHERE name = 'mc_acc')
                WHEN 'min' THEN (SELECT min(value) FROM metrics m WHERE m.run_id = r.id AND m.name = 'mc_acc')
                ELSE (SELECT max(value) FROM metrics m WHERE m.run_id = r.id AND m.name = 'mc_acc') END,
           (SELECT max(step) FROM metrics m WHERE m.run_id = r.id AND m.name = 'early_stop')
      FROM runs r
),
steps (run_id, vl_last, vl_best, vl_best_step, mc_last, mc_best, mc_best_step, stop_step) AS (
    SELECT b.run_id, b.vl_last, b.vl_best,
           (SELECT min(step) FROM metrics m WHERE m.run_id = b.run_id AND m.name = 'val_loss' AND m.value = b.vl_best),
           b.mc_last, b.mc_best,
           (SELECT min(step) FROM metrics m WHERE m.run_id = b.run_id AND m.name = 'mc_acc' AND m.value = b.mc_best),
           b.stop_step
      FROM best b
)
SELECT r.id AS run_id, r.key, r.role, r.status,
       (SELECT group_concat(name, ',') FROM (SELECT s.name FROM sweep_runs sr JOIN sweeps s ON s.id = sr.sweep_id
                                               WHERE sr.run_id = r.id ORDER BY s.name)) AS sweeps,
       r.objective, r.model, r.params, a.active_params, r.unique_tokens, r.quality, r.epochs, r.seed,
       json_extract(r.config, '$.train.lr') AS lr,
       json_extract(r.config, '$.train.weight_decay') AS weight_decay,
       json_extract(r.config, '$.train.schedule') AS schedule,
       json_extract(r.config, '$.train.batch') AS batch,
       json_extract(r.config, '$.train.seq_len') AS seq_len,
       json_extract(r.config, '$.model.layers') AS layers,
       json_extract(r.config, '$.model.dim') AS dim,
       json_extract(r.config, '$.model.heads') AS heads,
       a.experts, a.top_k, a.input_mask, a.token_dropout, a.attn_dropout, a.resid_dropout,
       coalesce(json_extract(r.config, '$.train.early_stop_margin'), 0) AS early_stop_margin,
       json_extract(r.config, '$.data.corpus') AS corpus,
       json_extract(r.config, '$.data.vocab') AS vocab,
       (SELECT json_group_object(p.path, json_extract(r.config, '$.' || p.path))
          FROM (SELECT DISTINCT v.path FROM sweep_runs sr JOIN varying v ON v.sweep_id = sr.sweep_id
                 WHERE sr.run_id = r.id ORDER BY v.path) p
         WHERE json_type(r.config, '$.' || p.path) IS NOT NULL) AS varied,
       (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.name = 'val_loss' AND m.step = x.vl_last) AS final_val_loss,
       (SELECT epoch FROM metrics m WHERE m.run_id = r.id AND m.name = 'val_loss' AND m.step = x.vl_last) AS final_val_loss_epoch,
       x.vl_best AS best_val_loss,
       (SELECT epoch FROM metrics m WHERE m.run_id = r.id AND m.name = 'val_loss' AND m.step = x.vl_best_step) AS best_val_loss_epoch,
       (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.name = 'mc_acc' AND m.step = x.mc_last) AS final_mc_acc,
       (SELECT epoch FROM metrics m WHERE m.run_id = r.id AND m.name = 'mc_acc' AND m.step = x.mc_last) AS final_mc_acc_epoch,
       x.mc_best AS best_mc_acc,
       (SELECT epoch FROM metrics m WHERE m.run_id = r.id AND m.name = 'mc_acc' AND m.step = x.mc_best_step) AS best_mc_acc_epoch,
       (SELECT epoch FROM metrics m WHERE m.run_id = r.id AND m.name = 'early_stop' AND m.step = x.stop_step) AS early_stop_epoch,
       (julianday(r.finished_at) - julianday(r.started_at)) * 86400 AS wall_s
  FROM runs r
  JOIN run_axes a ON a.run_id = r.id
  JOIN steps x ON x.run_id = r.id;

-- THE EARLY_STOP ROW. A run that stops early (train.early_stop_margin,
-- docs/run-config.md) writes one metrics row named 'early_stop' at its stop
-- step s, whose value is S, the planned number of steps (S > s), with the
-- tokens/epoch/flops of the stop point; its status is 'done'. Tokens, epochs
-- and FLOPs are all linear in steps, so on each x axis the run would have
-- ended at its HOLD point
--   x_hold = x_stop * S / s, stretched by 1e-6 (* 1.000001): the trainer
-- writes epoch and flops to 9 significant digits, so the product can fall a
-- hair short of the planned end where the other side's last point sits;
-- evaluation points are far more than 1e-6 apart, so the stretch reaches no
-- point the run would not have reached.
-- 'early_stop' is a marker, not a learning curve: the crossover views leave
-- it out of the curves, as every signal of metric_rule. (run_final and
-- curves list it, run_best does not.)

-- THE STANDARD ERROR ROWS. A metric named NAME_se ('val_loss_se') is the
-- standard error of metric NAME at the same step (the trainer writes
-- val_loss_se: the noise of the MDM's mask draws, 0 for AR; README, "How
-- sure is a crossover?"). It is not a learning curve: the crossover views
-- read it beside NAME and leave it out of the curves.

-- Every AR or MDM run with its `cell`: the resolved config without
-- `objective`, `seed` and `train.early_stop_margin`. Runs of one cell differ
-- only in those: its AR runs are the seeds of one side of a pair, its MDM
-- runs the other side. The margin is left out because stopping early changes
-- nothing before the stop, so an AR run with a margin pairs with an MDM run
-- without one (or with another margin), everything else equal. cell_id, the
-- smallest run id of the cell, names it compactly (the views below group by
-- it: sorting integers, not configs).
--   role, parent_id  runs.role and runs.parent_id (annealed branches)
--   acell            the ANNEALED cell: the cell also without train.epochs,
--                    train.branch_of and train.anneal_at, the same for a
--                    trunk and every branch of it (a branch's budget is its
--                    train.epochs); acell_id names it like cell_id
-- cell and acell are computed once per run, as json_remove() of its config,
-- by the triggers of migration 6 into crossover_member. While xover
-- recomputes some annealed cells (crossover_scope holds rows, inside its
-- write transaction) only their runs are listed.
-- The runs of one sweep:  ... WHERE cell IN (SELECT r.cell FROM crossover_runs r
--   JOIN sweep_runs sr ON sr.run_id = r.run_id JOIN sweeps s ON s.id = sr.sweep_id
--   WHERE s.name = 'demo')
CREATE VIEW crossover_runs AS
SELECT run_id, min(run_id) OVER (PARTITION BY cell) AS cell_id, key, objective, cell, model,
       params, unique_tokens, quality, epochs, seed, status, role, parent_id, acell,
       min(run_id) OVER (PARTITION BY acell) AS acell_id
  FROM (SELECT r.id AS run_id, r.key, r.objective, c.cell, c.acell, r.model, r.params,
               r.unique_tokens, r.quality, r.epochs, r.seed, r.status, r.role, r.parent_id
          FROM crossover_member c
          JOIN runs r ON r.id = c.run_id
         WHERE NOT EXISTS (SELECT 1 FROM crossover_scope)
            OR c.acell IN (SELECT acell FROM crossover_scope));

-- The points the crossover compares, one row per measured point of a
-- SERIES, in two modes:
--   'training'  a run's learning curve (runs that are not branches): every
--               point, sid = the run; cell_id / cell as crossover_runs
--   'annealed'  a trunk's annealed points: each of its branches' last point
--               with a value and an x (the value after its own cooldown),
--               sid = the trunk; cell_id / cell = acell_id / acell
-- Columns: mode, cell_id, cell, objective, sid, seed, the axes (epochs: the
-- run's, a branch's budget), metric, x_axis ('tokens', 'epochs', 'flops'), x,
-- step, value, se (NAME_se at the same step, NULL without one) and hold:
--   training  the run's HOLD point on x_axis when it stopped early (the
--             early_stop row of its largest step; NULL otherwise)
--   annealed  +infinity when the trunk stopped early (its later branches
--             were never trained: the side keeps its best at every larger
--             budget), NULL otherwise
-- Points without a value or an x, the _se rows and the training signals
-- (metric_rule: lr, grad_norm, train_loss, the early_stop marker, ...) are
-- left out: only metrics cross. The signals are named exactly in
-- metric_rule (a test keeps it so), so they are left out by name, any case.
CREATE VIEW crossover_points AS
WITH axis (x_axis) AS (VALUES ('tokens'), ('epochs'), ('flops')),
m AS (
    SELECT r.*, m.name AS metric, m.step, m.tokens, m.epoch, m.flops, m.value, e.value AS se
      FROM crossover_runs r
      JOIN metrics m ON m.run_id = r.run_id
      LEFT JOIN metrics e ON e.run_id = m.run_id AND e.step = m.step AND e.name = m.name || '_se'
     WHERE m.value IS NOT NULL AND m.name NOT LIKE '%\_se' ESCAPE '\'
       AND lower(m.name) NOT IN (SELECT pattern FROM metric_rule WHERE kind = 'signal')
),
pt AS MATERIALIZED (
    SELECT m.*, a.x_axis,
           CAST(CASE a.x_axis WHEN 'tokens' THEN m.tokens WHEN 'epochs' THEN m.epoch
                ELSE m.flops END AS REAL) AS x
      FROM m CROSS JOIN axis a
),
stop AS (
    SELECT m.run_id, m.step, m.tokens, m.epoch, m.flops, m.value,
           row_number() OVER (PARTITION BY m.run_id ORDER BY m.step DESC) AS k
      FROM crossover_runs r
      JOIN metrics m ON m.run_id = r.run_id AND m.name = 'early_stop'
),
stop_x AS (
    SELECT s.run_id, a.x_axis,
           CASE WHEN s.step > 0
                THEN CAST(CASE a.x_axis WHEN 'tokens' THEN s.tokens WHEN 'epochs' THEN s.epoch
                          ELSE s.flops END AS REAL) * s.value / s.step * 1.000001 END AS hold
      FROM stop s
     CROSS JOIN axis a
     WHERE s.k = 1
),
last AS (
    SELECT pt.*, row_number() OVER (PARTITION BY run_id, metric, x_axis ORDER BY step DESC) AS k
      FROM pt WHERE role = 'branch' AND x IS NOT NULL AND parent_id IS NOT NULL
)
SELECT 'training' AS mode, p.cell_id, p.cell, p.objective, p.run_id AS sid, p.seed, p.model, p.params,
       p.unique_tokens, p.quality, p.epochs, p.metric, p.x_axis, p.x, p.step, p.value, p.se, h.hold
  FROM pt p LEFT JOIN stop_x h ON h.run_id = p.run_id AND h.x_axis = p.x_axis
 WHERE p.role <> 'branch' AND p.x IS NOT NULL
UNION ALL
SELECT 'annealed', l.acell_id, l.acell, l.objective, l.parent_id, l.seed, l.model, l.params,
       l.unique_tokens, l.quality, l.epochs, l.metric, l.x_axis, l.x, l.step, l.value, l.se,
       CASE WHEN EXISTS (SELECT 1 FROM metrics s WHERE s.run_id = l.parent_id AND s.name = 'early_stop')
            THEN 9e999 END
  FROM last l WHERE l.k = 1;

-- The seed-aggregated curves: one row per (mode, cell, objective, metric,
-- x_axis, x) of crossover_points.
--   A series contributes one point per x: where it has several, the one of
--   the largest step.
--   seeds   the series of (mode, cell, objective): each seed's run (or trunk)
--   x       kept only where EVERY one of those seeds has a point (so a seed
--           still training shortens the curve instead of skewing the mean)
--   value   the mean over the seeds; sd their sample standard deviation
--           (NULL for one seed)
--   better  'min' | 'max' (metric_rule)
--   best    best-so-far of `value` along x (running min or max): the value an
--           early-stopped run reaches by x
--   hold    the side's hold point on x_axis, the same on every row of the
--           side: when EVERY one of its seeds holds (crossover_points.hold),
--           the smallest of their holds; NULL otherwise (one seed that ran to
--           its end, and the side does not hold)
--   se      with one seed, the standard error of its value (NULL otherwise)
--   best_se the se of the point `best` comes from (its earliest x)
CREATE VIEW crossover_curves AS
WITH latest AS (
    SELECT * FROM (SELECT p.*, row_number() OVER (PARTITION BY mode, sid, metric, x_axis, x
                                                  ORDER BY step DESC) AS k
                     FROM crossover_points p) WHERE k = 1
),
seeds AS (
    SELECT mode, cell_id, objective, metric, x_axis, count(*) AS n,
           CASE WHEN count(hold) = count(*) THEN min(hold) END AS hold,
           coalesce((SELECT r.better FROM metric_rule r WHERE l.metric LIKE r.pattern ESCAPE '\'), 'max')
               AS better
      FROM (SELECT mode, cell_id, objective, metric, x_axis, sid, max(hold) AS hold FROM latest
             GROUP BY mode, cell_id, objective, metric, x_axis, sid) l
     GROUP BY mode, cell_id, objective, metric, x_axis
),
centred AS (
    SELECT latest.*, avg(value) OVER (PARTITION BY mode, cell_id, objective, metric, x_axis, x) AS mean
      FROM latest
),
agg AS (
    SELECT mode, cell_id, max(cell) AS cell, objective, metric, x_axis, x, count(*) AS k,
           max(mean) AS mean, sum((value - mean) * (value - mean)) AS ss, max(se) AS se1,
           max(model) AS model, max(params) AS params, max(unique_tokens) AS unique_tokens,
           max(quality) AS quality, max(epochs) AS epochs
      FROM centred GROUP BY mode, cell_id, objective, metric, x_axis, x
),
kept AS (
    SELECT a.*, s.n AS seeds, s.hold AS hold, s.better AS better,
           CASE WHEN s.n = 1 THEN a.se1 END AS se,
           CASE s.better WHEN 'min' THEN min(a.mean) OVER w ELSE max(a.mean) OVER w END AS best
      FROM agg a JOIN seeds s USING (mode, cell_id, objective, metric, x_axis)
     WHERE a.k = s.n
    WINDOW w AS (PARTITION BY a.mode, a.cell_id, a.objective, a.metric, a.x_axis ORDER BY a.x)
)
SELECT mode, cell_id, cell, objective, model, params, unique_tokens, quality, epochs, metric, better,
       x_axis, x, mean AS value, CASE WHEN seeds > 1 THEN sqrt(ss / (seeds - 1)) END AS sd, seeds,
       best, hold, se,
       first_value(se) OVER (PARTITION BY mode, cell_id, objective, metric, x_axis, best ORDER BY x)
           AS best_se
  FROM kept;

-- The crossover of the seed means (seed NULL) and of each seed on its own
-- (its AR series against its MDM series), one row per (mode, cell, seed,
-- metric, x_axis) where both objectives have a curve: the POINT analysis,
-- before any interval. The crossover view below judges it.
--
-- THE DEFINITION, mode 'training'. Let A(x) and M(x) be the AR and MDM
-- best-so-far curves, each linearly interpolated between its own evaluation
-- points; a side that HOLDS keeps its last best-so-far from its last point
-- up to its hold. Each side ends at the larger of its last x and its hold.
-- The common range is [x_start, x_end] = [the later first x, the earlier
-- end], with x_end moved back to the last evaluation x of either curve
-- inside it (the curves have no points but their own). At every evaluation x
-- of either curve inside it, the MDM advantage is adv(x) = A(x) - M(x) for a
-- 'min' metric and M(x) - A(x) for a 'max' one: positive when MDM is better.
-- Between two such points adv is linear, so with x_b the last point where
-- adv <= 0 and x_n the next:
--   verdict 'crossover'  x_b < x_end: crossover = the zero of adv between x_b
--                        and x_n: x_b + (x_n - x_b) * -adv_b / (adv_n - adv_b);
--                        bracket_lo, bracket_hi = x_b, x_n: the two
--                        evaluations the crossover falls between
--   verdict 'mdm_ahead'  adv > 0 at every point: crossover = x_start
--   verdict 'none'       adv(x_end) <= 0: MDM is not ahead by the end of the
--                        budget; crossover is NULL
--   verdict 'no_overlap' the two curves share no x; crossover is NULL
-- WHY THE HOLD. Early stopping only cuts a curve short once the run has
-- clearly overfit (its validation loss a margin above its best); the
-- learning-rate schedule still spanned the planned length, so the run up to
-- the stop is the run it would have been; and the best-so-far is what an
-- early-stopped run delivers: its best checkpoint, kept to the end of the
-- planned budget. A side holds only when every seed stopped: one seed that
-- ran on still measures the rest of the curve.
--
-- THE DEFINITION, mode 'annealed'. x is a branch's budget, y its annealed
-- value. AR's value at budget E is the best of its annealed points at
-- budgets <= E (a step, not interpolated); the MDM's is its own annealed
-- value at E. The range is the MDM's budgets inside [the later first x, the
-- earlier end] (a side that holds ends at +infinity); adv(E) as above; the
-- crossover is the smallest budget from which adv > 0 to the end
-- (bracket_lo: the budget before it, where MDM was not ahead), x_start when
-- MDM leads throughout, none when adv(x_end) <= 0.
--
-- gap_se, the evaluation error of final_gap: sqrt(se_A^2 + se_M^2) of the
-- standard errors of the two values compared at x_end (best_se interpolated
-- like best; annealed: AR's best point's and the MDM point's se); NULL when
-- a side has none (several seeds: their spread is the error then).
-- ar_best, ar_best_x, ar_best_sd: the best mean value of the AR curve over
-- ALL its points, the earliest x reaching it and the seed sd there; mdm_*
-- the same for MDM.
-- THE EDGE FLAGS, annealed mode only (NULL in training mode):
--   ar_best_at_edge   1 when AR's best annealed point is its smallest
--                     budget: its minimum may lie below the grid, so AR's
--                     best is overstated and the crossover may be an
--                     artefact of the grid (anneal AR from a smaller
--                     budget: train.anneal_at: 2 per doubling from 2.5);
--                     0 otherwise
--   mdm_best_at_edge  1 when the MDM's best is its largest budget, with two
--                     or more: the MDM was still improving there; 0 otherwise
CREATE VIEW crossover_by_seed AS
WITH sp AS MATERIALIZED (
    SELECT * FROM (SELECT p.*, row_number() OVER (PARTITION BY mode, sid, metric, x_axis, x
                                                  ORDER BY step DESC) AS k
                     FROM crossover_points p) WHERE k = 1
),
s1 AS (
    SELECT sp.*, coalesce((SELECT r.better FROM metric_rule r WHERE sp.metric LIKE r.pattern ESCAPE '\'), 'max')
                     AS better
      FROM sp
),
-- Each seed on its own only where a side has several: with one seed on
-- each side the seed's curves are the means' (the crossover view reads the
-- seed's numbers from the means' row then), and half the work is saved.
many AS (
    SELECT mode, cell_id, metric, x_axis FROM s1
     GROUP BY mode, cell_id, metric, x_axis HAVING count(DISTINCT sid) > 2
),
s2 AS (
    SELECT s1.*, CASE better WHEN 'min' THEN min(value) OVER w ELSE max(value) OVER w END AS best
      FROM s1 JOIN many USING (mode, cell_id, metric, x_axis)
    WINDOW w AS (PARTITION BY mode, cell_id, seed, objective, metric, x_axis ORDER BY x)
),
c AS MATERIALIZED (
    SELECT mode, cell_id, -1 AS seed_key, objective, metric, better, x_axis, x, value, sd, seeds,
           best, best_se, se, hold
      FROM crossover_curves
    UNION ALL
    SELECT mode, cell_id, seed, objective, metric, better, x_axis, x, value, NULL, 1, best,
           first_value(se) OVER (PARTITION BY mode, cell_id, seed, objective, metric, x_axis, best
                                 ORDER BY x), se, hold
      FROM s2
),
pairs AS (
    SELECT mode, cell_id, seed_key, metric, x_axis FROM c
     GROUP BY mode, cell_id, seed_key, metric, x_axis HAVING count(DISTINCT objective) = 2
),
u AS MATERIALIZED (
    SELECT c.* FROM c JOIN pairs USING (mode, cell_id, seed_key, metric, x_axis)
),
ends AS MATERIALIZED (
    SELECT mode, cell_id, seed_key, metric, x_axis, max(better) AS better,
           max(CASE WHEN objective = 'ar' THEN hold END) AS ah,
           max(CASE WHEN objective = 'mdm' THEN hold END) AS mh,
           max(min(CASE WHEN objective = 'ar' THEN x END), min(CASE WHEN objective = 'mdm' THEN x END))
               AS lo,
           min(max(max(CASE WHEN objective = 'ar' THEN x END),
                   coalesce(max(CASE WHEN objective = 'ar' THEN hold END), -9e999)),
               max(max(CASE WHEN objective = 'mdm' THEN x END),
                   coalesce(max(CASE WHEN objective = 'mdm' THEN hold END), -9e999))) AS hi,
           min(CASE WHEN objective = 'ar' THEN x END) AS ar_first,
           max(CASE WHEN objective = 'mdm' THEN x END) AS mdm_last,
           count(CASE WHEN objective = 'mdm' THEN x END) AS mdm_n
      FROM u GROUP BY mode, cell_id, seed_key, metric, x_axis
),
knots AS (
    SELECT mode, cell_id, seed_key, metric, better, x_axis, x, objective, value, se,
           max(CASE WHEN objective = 'ar' THEN x END) OVER lo AS ax0,
           min(CASE WHEN objective = 'ar' THEN x END) OVER hi AS ax1,
           max(CASE WHEN objective = 'mdm' THEN x END) OVER lo AS mx0,
           min(CASE WHEN objective = 'mdm' THEN x END) OVER hi AS mx1,
           -- best-so-far is monotone, so its value at the last knot <= x is the
           -- running min (max) and at the first knot >= x the max (min) beyond
           CASE better WHEN 'min' THEN min(CASE WHEN objective = 'ar' THEN best END) OVER lo
                ELSE max(CASE WHEN objective = 'ar' THEN best END) OVER lo END AS ab0,
           CASE better WHEN 'min' THEN max(CASE WHEN objective = 'ar' THEN best END) OVER hi
                ELSE min(CASE WHEN objective = 'ar' THEN best END) OVER hi END AS ab1,
           CASE better WHEN 'min' THEN min(CASE WHEN objective = 'mdm' THEN best END) OVER lo
                ELSE max(CASE WHEN objective = 'mdm' THEN best END) OVER lo END AS mb0,
           CASE better WHEN 'min' THEN max(CASE WHEN objective = 'mdm' THEN best END) OVER hi
                ELSE min(CASE WHEN objective = 'mdm' THEN best END) OVER hi END AS mb1
      FROM u
    WINDOW lo AS (PARTITION BY mode, cell_id, seed_key, metric, x_axis ORDER BY x
                  RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           hi AS (PARTITION BY mode, cell_id, seed_key, metric, x_axis ORDER BY x
                  RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
),
-- The se of each side's best-so-far at a knot's neighbours (equi-joins,
-- which SQLite indexes on the fly).
kse AS MATERIALIZED (
    SELECT k.*, a0.best_se AS as0, a1.best_se AS as1, m0.best_se AS ms0, m1.best_se AS ms1
      FROM knots k
      LEFT JOIN u a0 ON a0.mode = k.mode AND a0.cell_id = k.cell_id AND a0.seed_key = k.seed_key
       AND a0.metric = k.metric AND a0.x_axis = k.x_axis AND a0.objective = 'ar' AND a0.x = k.ax0
      LEFT JOIN u a1 ON a1.mode = k.mode AND a1.cell_id = k.cell_id AND a1.seed_key = k.seed_key
       AND a1.metric = k.metric AND a1.x_axis = k.x_axis AND a1.objective = 'ar' AND a1.x = k.ax1
      LEFT JOIN u m0 ON m0.mode = k.mode AND m0.cell_id = k.cell_id AND m0.seed_key = k.seed_key
       AND m0.metric = k.metric AND m0.x_axis = k.x_axis AND m0.objective = 'mdm' AND m0.x = k.mx0
      LEFT JOIN u m1 ON m1.mode = k.mode AND m1.cell_id = k.cell_id AND m1.seed_key = k.seed_key
       AND m1.metric = k.metric AND m1.x_axis = k.x_axis AND m1.objective = 'mdm' AND m1.x = k.mx1
),
-- training: both best-so-far curves at every knot inside the range (past a
-- side's last point, no knot >= x: ax1 or mx1 NULL, only up to its hold, at
-- the value of its last point) and their se
interp AS (
    SELECT k.mode, k.cell_id, k.seed_key, k.metric, k.better, k.x_axis, k.x,
           CASE WHEN k.ax1 IS NULL OR k.ax1 = k.ax0 THEN k.ab0
                ELSE k.ab0 + (k.ab1 - k.ab0) * (k.x - k.ax0) / (k.ax1 - k.ax0) END AS a,
           CASE WHEN k.mx1 IS NULL OR k.mx1 = k.mx0 THEN k.mb0
                ELSE k.mb0 + (k.mb1 - k.mb0) * (k.x - k.mx0) / (k.mx1 - k.mx0) END AS m,
           CASE WHEN k.ax1 IS NULL OR k.ax1 = k.ax0 THEN k.as0
                ELSE k.as0 + (k.as1 - k.as0) * (k.x - k.ax0) / (k.ax1 - k.ax0) END AS sa,
           CASE WHEN k.mx1 IS NULL OR k.mx1 = k.mx0 THEN k.ms0
                ELSE k.ms0 + (k.ms1 - k.ms0) * (k.x - k.mx0) / (k.mx1 - k.mx0) END AS sm
      FROM kse k
      JOIN ends h ON h.mode = k.mode AND h.cell_id = k.cell_id AND h.seed_key = k.seed_key
       AND h.metric = k.metric AND h.x_axis = k.x_axis
     WHERE k.mode = 'training'
       AND k.ax0 IS NOT NULL AND (k.ax1 IS NOT NULL OR k.x <= h.ah)
       AND k.mx0 IS NOT NULL AND (k.mx1 IS NOT NULL OR k.x <= h.mh)
     GROUP BY k.mode, k.cell_id, k.seed_key, k.metric, k.x_axis, k.x
),
-- annealed: at each MDM budget inside the range, AR's best at budgets <= it
-- and the MDM's own value
astep AS (
    SELECT k.mode, k.cell_id, k.seed_key, k.metric, k.better, k.x_axis, k.x, k.ab0 AS a,
           k.value AS m, k.as0 AS sa, k.se AS sm
      FROM kse k
      JOIN ends h ON h.mode = k.mode AND h.cell_id = k.cell_id AND h.seed_key = k.seed_key
       AND h.metric = k.metric AND h.x_axis = k.x_axis
     WHERE k.mode = 'annealed' AND k.objective = 'mdm' AND k.x >= h.lo AND k.x <= h.hi
),
adv AS (
    SELECT mode, cell_id, seed_key, metric, x_axis, x, adv, sa, sm,
           lead(x) OVER p AS x_n, lead(adv) OVER p AS adv_n,
           max(x) OVER whole AS x_end,
           max(CASE WHEN adv <= 0 THEN x END) OVER whole AS x_b
      FROM (SELECT mode, cell_id, seed_key, metric, x_axis, x, sa, sm,
                   CASE better WHEN 'min' THEN a - m ELSE m - a END AS adv
              FROM (SELECT * FROM interp UNION ALL SELECT * FROM astep))
    WINDOW p AS (PARTITION BY mode, cell_id, seed_key, metric, x_axis ORDER BY x),
           whole AS (PARTITION BY mode, cell_id, seed_key, metric, x_axis)
),
range AS (
    SELECT mode, cell_id, seed_key, metric, x_axis, min(x) AS x_start, max(x) AS x_end,
           max(CASE WHEN x = x_end THEN adv END) AS final_gap,
           max(CASE WHEN x = x_end THEN sqrt(sa * sa + sm * sm) END) AS gap_se,
           max(x_b) AS x_b,
           max(CASE WHEN x = x_b THEN x_n END) AS x_n,
           max(CASE WHEN x = x_b AND x_n IS NOT NULL
                    THEN CASE mode WHEN 'annealed' THEN x_n
                         ELSE x + (x_n - x) * -adv / (adv_n - adv) END END) AS cross_b
      FROM adv GROUP BY mode, cell_id, seed_key, metric, x_axis
),
-- the pair's axes, from every point of both sides (epochs: the largest, for
-- annealed points the largest budget with a point); one_pair: one seed a
-- side, and the same seed
axes AS (
    SELECT mode, cell_id, metric, x_axis, max(cell) AS cell, max(model) AS model,
           max(params) AS params, max(unique_tokens) AS unique_tokens, max(quality) AS quality,
           max(epochs) AS epochs,
           CASE WHEN count(DISTINCT sid) = 2 AND min(seed) = max(seed) THEN 1 ELSE 0 END AS one_pair
      FROM sp GROUP BY mode, cell_id, metric, x_axis
),
best AS (
    SELECT u.mode, u.cell_id, u.seed_key, u.metric, u.x_axis, u.objective, min(u.x) AS best_x,
           u.sd AS best_sd, u.value AS best, u.seeds
      FROM u JOIN (SELECT mode, cell_id, seed_key, metric, x_axis, objective,
                          CASE WHEN better = 'min' THEN min(value) ELSE max(value) END AS bv
                     FROM u GROUP BY mode, cell_id, seed_key, metric, x_axis, objective) o
        ON o.mode = u.mode AND o.cell_id = u.cell_id AND o.seed_key = u.seed_key
       AND o.metric = u.metric AND o.x_axis = u.x_axis AND o.objective = u.objective AND u.value = o.bv
     GROUP BY u.mode, u.cell_id, u.seed_key, u.metric, u.x_axis, u.objective
)
SELECT p.mode, p.cell_id, CASE WHEN p.seed_key >= 0 THEN p.seed_key END AS seed, p.metric,
       e.better, p.x_axis, ba.seeds AS ar_seeds, bm.seeds AS mdm_seeds,
       CASE WHEN r.x_end IS NULL THEN 'no_overlap'
            WHEN r.final_gap <= 0 THEN 'none'
            WHEN r.x_b IS NULL THEN 'mdm_ahead'
            ELSE 'crossover' END AS verdict,
       CASE WHEN r.x_end IS NULL OR r.final_gap <= 0 THEN NULL
            WHEN r.x_b IS NULL THEN r.x_start
            ELSE r.cross_b END AS crossover,
       CASE WHEN r.final_gap > 0 AND r.x_b IS NOT NULL THEN r.x_b END AS bracket_lo,
       CASE WHEN r.final_gap > 0 AND r.x_b IS NOT NULL THEN r.x_n END AS bracket_hi,
       r.x_start, r.x_end, r.final_gap, r.gap_se,
       ba.best AS ar_best, ba.best_x AS ar_best_x, ba.best_sd AS ar_best_sd,
       bm.best AS mdm_best, bm.best_x AS mdm_best_x, bm.best_sd AS mdm_best_sd,
       x.model, x.params, x.unique_tokens, x.quality, x.epochs, x.cell, x.one_pair,
       CASE WHEN p.mode = 'annealed' THEN ba.best_x = e.ar_first END AS ar_best_at_edge,
       CASE WHEN p.mode = 'annealed' THEN e.mdm_n >= 2 AND bm.best_x = e.mdm_last END AS mdm_best_at_edge
  FROM pairs p
  JOIN axes x ON x.mode = p.mode AND x.cell_id = p.cell_id AND x.metric = p.metric AND x.x_axis = p.x_axis
  JOIN best ba ON ba.mode = p.mode AND ba.cell_id = p.cell_id AND ba.seed_key = p.seed_key
              AND ba.metric = p.metric AND ba.x_axis = p.x_axis AND ba.objective = 'ar'
  JOIN best bm ON bm.mode = p.mode AND bm.cell_id = p.cell_id AND bm.seed_key = p.seed_key
              AND bm.metric = p.metric AND bm.x_axis = p.x_axis AND bm.objective = 'mdm'
  JOIN ends e ON e.mode = p.mode AND e.cell_id = p.cell_id AND e.seed_key = p.seed_key
              AND e.metric = p.metric AND e.x_axis = p.x_axis
  LEFT JOIN range r ON r.mode = p.mode AND r.cell_id = p.cell_id AND r.seed_key = p.seed_key
                   AND r.metric = p.metric AND r.x_axis = p.x_axis;

-- The crossover of every pair: one row per (mode, cell, metric, x_axis)
-- where both objectives have a curve: the seed means' point analysis
-- (crossover_by_seed, which says what each column means), judged.
-- THIS IS THE ONE DEFINITION of the crossover: README, docs/ and the C code
-- (orchestrator/analysis/, which computes the same rows for `xover
-- crossover`, held to the same numbers by tests/test_crossover.c,
-- tests/test_crossover_cli.c and tests/test_confidence.c) cite it.
--
-- THE INTERVAL of final_gap, 95%:
--   interval 'seeds'  two or more PAIRED seeds (a seed in both sides: its AR
--                     and MDM runs share data order and validation masks):
--                     a t interval over the seeds' own final gaps, around
--                     their mean: mean -+ t(k-1) * sd / sqrt(k)
--   interval 'eval'   otherwise, with a gap_se: final_gap -+ 1.959964 * gap_se
--                     (the evaluation error alone; it says nothing of seeds)
--   NULL              neither (runs recorded without standard errors)
-- t is Student's 97.5% quantile, from a table to 30 degrees of freedom and
-- the Cornish-Fisher expansion beyond.
-- THE VERDICT:
--   'no_overlap'   as the point analysis says
--   'unfinished'   a run of the pair (training: of the cell, branches aside;
--                  annealed: a trunk or branch of the annealed cell) is
--                  pending, running or interrupted
--   with an interval: 'crossover' / 'mdm_ahead' (the point verdict) when
--                  gap_lo > 0 and final_gap > 0; 'none' when gap_hi < 0 and
--                  the point verdict is none; 'inconclusive' otherwise
--   without one: the point verdict
-- crossover and bracket_lo/hi stay the point analysis' whatever the verdict.
-- paired_seeds, seeds_crossed: the paired seeds and how many crossed on
-- their own (verdict crossover or mdm_ahead); seed_cross_min/max the range of
-- their crossovers. ar_best_at_edge, mdm_best_at_edge: the seed means'
-- (crossover_by_seed says what they flag; NULL in training mode).
-- The rows of crossover_by_seed are read from crossover_cache (migration 6:
-- the same rows, kept by xover as it stores points), so the crossover of
-- 10,000 runs answers in milliseconds rather than minutes.
CREATE VIEW crossover AS
-- crossover_cache is read once: the seed rows' statistics ride along as
-- window aggregates
WITH bw AS (
    SELECT b.*,
           avg(CASE WHEN seed IS NOT NULL THEN final_gap END) OVER w AS gm,
           count(CASE WHEN seed IS NOT NULL THEN final_gap END) OVER w AS k,
           count(CASE WHEN seed IS NOT NULL THEN 1 END) OVER w AS paired0,
           count(CASE WHEN seed IS NOT NULL AND verdict IN ('crossover', 'mdm_ahead') THEN 1 END) OVER w
               AS crossed0,
           min(CASE WHEN seed IS NOT NULL AND verdict IN ('crossover', 'mdm_ahead') THEN crossover END)
               OVER w AS cmin0,
           max(CASE WHEN seed IS NOT NULL AND verdict IN ('crossover', 'mdm_ahead') THEN crossover END)
               OVER w AS cmax0
      FROM crossover_cache b
    WINDOW w AS (PARTITION BY mode, cell_id, metric, x_axis)
),
b AS (
    SELECT bw.*,
           sum(CASE WHEN seed IS NOT NULL THEN (final_gap - gm) * (final_gap - gm) END)
               OVER (PARTITION BY mode, cell_id, metric, x_axis) AS ss
      FROM bw
),
tq (df, t) AS (VALUES (0, 1.959964), (1, 12.706205), (2, 4.302653), (3, 3.182446), (4, 2.776445),
    (5, 2.570582), (6, 2.446912), (7, 2.364624), (8, 2.306004), (9, 2.262157), (10, 2.228139),
    (11, 2.200985), (12, 2.178813), (13, 2.160369), (14, 2.144787), (15, 2.131450),
    (16, 2.119905), (17, 2.109816), (18, 2.100922), (19, 2.093024), (20, 2.085963),
    (21, 2.079614), (22, 2.073873), (23, 2.068658), (24, 2.063899), (25, 2.059539),
    (26, 2.055529), (27, 2.051831), (28, 2.048407), (29, 2.045230), (30, 2.042272)),
-- cells with a run still to finish (training: branches aside; annealed: the
-- trunks and branches)
-- (a few index seeks per open run, not crossover_runs over every run)
opened AS MATERIALIZED (
    SELECT DISTINCT 'training' AS mode,
           (SELECT min(o.run_id) FROM crossover_member o WHERE o.cell = c.cell) AS cell_id
      FROM runs r JOIN crossover_member c ON c.run_id = r.id
     WHERE r.status IN ('pending', 'running', 'interrupted') AND r.role <> 'branch'
    UNION
    SELECT DISTINCT 'annealed', (SELECT min(o.run_id) FROM crossover_member o WHERE o.acell = c.acell)
      FROM runs r JOIN crossover_member c ON c.run_id = r.id
     WHERE r.status IN ('pending', 'running', 'interrupted') AND r.role IN ('trunk', 'branch')
),
iv AS (
    SELECT m.*,
           CASE WHEN m.paired0 > 0 THEN m.paired0 ELSE m.one_pair END AS paired,
           CASE WHEN m.paired0 > 0 THEN m.crossed0
                WHEN m.one_pair AND m.verdict IN ('crossover', 'mdm_ahead') THEN 1 ELSE 0 END AS crossed,
           CASE WHEN m.paired0 > 0 THEN m.cmin0
                WHEN m.one_pair AND m.verdict IN ('crossover', 'mdm_ahead') THEN m.crossover END AS cmin,
           CASE WHEN m.paired0 > 0 THEN m.cmax0
                WHEN m.one_pair AND m.verdict IN ('crossover', 'mdm_ahead') THEN m.crossover END AS cmax,
           CASE WHEN m.k >= 2 THEN 'seeds'
                WHEN m.gap_se IS NOT NULL AND m.final_gap IS NOT NULL THEN 'eval' END AS interval,
           CASE WHEN m.k >= 2
                THEN m.gm - coalesce((SELECT t FROM tq WHERE df = m.k - 1),
                                     1.959964 + (1.959964 * 1.959964 * 1.959964 + 1.959964) / (4 * (m.k - 1.0))
                                     + (5 * 1.959964 * 1.959964 * 1.959964 * 1.959964 * 1.959964
                                        + 16 * 1.959964 * 1.959964 * 1.959964 + 3 * 1.959964)
                                       / (96 * (m.k - 1.0) * (m.k - 1.0)))
                            * sqrt(m.ss / (m.k - 1)) / sqrt(m.k)
                ELSE m.final_gap - 1.959964 * m.gap_se END AS gap_lo,
           CASE WHEN m.k >= 2
                THEN m.gm + coalesce((SELECT t FROM tq WHERE df = m.k - 1),
                                     1.959964 + (1.959964 * 1.959964 * 1.959964 + 1.959964) / (4 * (m.k - 1.0))
                                     + (5 * 1.959964 * 1.959964 * 1.959964 * 1.959964 * 1.959964
                                        + 16 * 1.959964 * 1.959964 * 1.959964 + 3 * 1.959964)
                                       / (96 * (m.k - 1.0) * (m.k - 1.0)))
                            * sqrt(m.ss / (m.k - 1)) / sqrt(m.k)
                ELSE m.final_gap + 1.959964 * m.gap_se END AS gap_hi,
           o.cell_id IS NOT NULL AS open
      FROM b m
      LEFT JOIN opened o ON o.mode = m.mode AND o.cell_id = m.cell_id
     WHERE m.seed IS NULL
)
SELECT i.metric, i.better, i.x_axis, i.mode, i.model, i.params, i.unique_tokens, i.quality, i.epochs,
       i.ar_seeds, i.mdm_seeds,
       CASE WHEN i.verdict = 'no_overlap' THEN 'no_overlap'
            WHEN i.open THEN 'unfinished'
            WHEN i.interval IS NULL THEN i.verdict
            WHEN i.gap_lo > 0 AND i.final_gap > 0 AND i.verdict IN ('crossover', 'mdm_ahead') THEN i.verdict
            WHEN i.gap_hi < 0 AND i.verdict = 'none' THEN 'none'
            ELSE 'inconclusive' END AS verdict,
       i.crossover, i.x_start, i.x_end, i.final_gap,
       i.ar_best, i.ar_best_x, i.ar_best_sd, i.mdm_best, i.mdm_best_x, i.mdm_best_sd,
       i.bracket_lo, i.bracket_hi, i.gap_lo, i.gap_hi, i.gap_se, i.interval,
       i.paired AS paired_seeds, i.crossed AS seeds_crossed,
       i.cmin AS seed_cross_min, i.cmax AS seed_cross_max, i.ar_best_at_edge, i.mdm_best_at_edge, i.cell
  FROM iv i;

-- The data-efficiency multiplier: over pairs at several unique budgets U
-- that agree on everything else (a budget sweep; of pairs at one U, the
-- first by epochs and cell), for each pair of the crossover view and each
-- direction. THE BUDGET GROUP is the cell without data.unique_tokens,
-- train.epochs and the fields a sweep derives from the plan's length:
-- train.warmup_epochs (an annealed sweep resolves warmup_frac x its longest
-- point into it: 6.4 epochs at 640, 3.2 at 320, the same in tokens) and
-- train.log_every (the train lines' cadence, about 500 a run: it changes no
-- evaluation). So a budget sweep at fixed tokens is one group; a sweep that
-- varies warmup_epochs itself beside U is one group too, and its first pair
-- at each U is the one kept. The rows:
--   'ar_equivalent'   the budget U_AR at which AR's best (as a function of
--                     U, linear in ln U between measured budgets: the first
--                     pair of neighbouring budgets that brackets the value)
--                     equals this pair's MDM best; ratio = U_AR / U
--   'mdm_equivalent'  the budget U_MDM at which the MDM's best equals this
--                     pair's AR best; ratio = U / U_MDM
-- so in both a ratio above 1 says the MDM needs that many times less data.
-- value is the best being matched. An equivalent outside the measured
-- budgets is not extrapolated: status 'beyond the grid', equivalent_tokens
-- and ratio NULL. The interval (ratio_lo, ratio_hi) is a 95% t interval over
-- the pair's paired seeds of ln ratio, each seed with its own bests at every
-- budget (NULL with fewer than two seeds whose own equivalent is measured);
-- seeds counts those. `xover crossover --efficiency` prints the same rows.
CREATE VIEW crossover_efficiency AS
WITH -- each pair's best values: the best of each side's mean curve (as the
-- crossover view's ar_best and mdm_best), read from crossover_curves, not
-- from the crossover view: the query stays small to plan
pb AS (
    SELECT mode, cell_id, max(cell) AS cell, metric, x_axis, max(model) AS model,
           max(quality) AS quality, max(unique_tokens) AS unique_tokens, max(epochs) AS epochs,
           max(params) AS params,
           CASE max(better) WHEN 'min' THEN min(CASE WHEN objective = 'ar' THEN value END)
                ELSE max(CASE WHEN objective = 'ar' THEN value END) END AS ar_best,
           CASE max(better) WHEN 'min' THEN min(CASE WHEN objective = 'mdm' THEN value END)
                ELSE max(CASE WHEN objective = 'mdm' THEN value END) END AS mdm_best
      FROM crossover_curves
     GROUP BY mode, cell_id, metric, x_axis HAVING count(DISTINCT objective) = 2
),
gn AS MATERIALIZED (
    SELECT g.*, count(*) OVER (PARTITION BY mode, metric, x_axis, bgroup) AS nb
      FROM (SELECT c.*, json_remove(c.cell, '$.data.unique_tokens', '$.train.epochs', '$.train.warmup_epochs',
                                       '$.train.log_every') AS bgroup,
                   row_number() OVER (PARTITION BY mode, metric, x_axis,
                                      json_remove(c.cell, '$.data.unique_tokens', '$.train.epochs',
                                                  '$.train.warmup_epochs', '$.train.log_every'),
                                      unique_tokens ORDER BY epochs, cell) AS dup
              FROM pb c) g
     WHERE g.dup = 1
),
dirs (direction) AS (VALUES ('ar_equivalent'), ('mdm_equivalent')),
-- a curve per group, direction and seed (-1: the seeds' means): the other
-- side's best at each budget, and its next budget's
tq (df, t) AS (VALUES (1, 12.706205), (2, 4.302653), (3, 3.182446), (4, 2.776445),
    (5, 2.570582), (6, 2.446912), (7, 2.364624), (8, 2.306004), (9, 2.262157), (10, 2.228139),
    (11, 2.200985), (12, 2.178813), (13, 2.160369), (14, 2.144787), (15, 2.131450),
    (16, 2.119905), (17, 2.109816), (18, 2.100922), (19, 2.093024), (20, 2.085963),
    (21, 2.079614), (22, 2.073873), (23, 2.068658), (24, 2.063899), (25, 2.059539),
    (26, 2.055529), (27, 2.051831), (28, 2.048407), (29, 2.045230), (30, 2.042272)),
-- each paired seed's own bests of a pair (one series a side of that seed)
sb AS MATERIALIZED (
    SELECT mode, cell, metric, x_axis, seed,
           max(CASE WHEN objective = 'ar' THEN b END) AS ar_b,
           max(CASE WHEN objective = 'mdm' THEN b END) AS mdm_b
      FROM (SELECT p.mode, p.cell, p.metric, p.x_axis, p.objective, p.seed,
                   CASE coalesce((SELECT r.better FROM metric_rule r WHERE p.metric LIKE r.pattern ESCAPE '\'), 'max')
                        WHEN 'min' THEN min(p.value) ELSE max(p.value) END AS b
              FROM crossover_points p GROUP BY p.mode, p.cell, p.metric, p.x_axis, p.objective, p.seed)
     GROUP BY mode, cell, metric, x_axis, seed HAVING count(*) = 2
),
seeds AS (
    SELECT DISTINCT gn.mode, gn.metric, gn.x_axis, gn.bgroup, sb.seed
      FROM gn JOIN sb ON sb.mode = gn.mode AND sb.cell = gn.cell AND sb.metric = gn.metric
                     AND sb.x_axis = gn.x_axis
     WHERE gn.nb >= 2
),
curve AS (
    SELECT gn.mode, gn.metric, gn.x_axis, gn.bgroup, d.direction, -1 AS seed, gn.unique_tokens AS u,
           CASE d.direction WHEN 'ar_equivalent' THEN gn.ar_best ELSE gn.mdm_best END AS b
      FROM gn CROSS JOIN dirs d WHERE gn.nb >= 2
    UNION ALL
    SELECT gn.mode, gn.metric, gn.x_axis, gn.bgroup, d.direction, s.seed, gn.unique_tokens,
           CASE d.direction WHEN 'ar_equivalent' THEN sb.ar_b ELSE sb.mdm_b END
      FROM gn CROSS JOIN dirs d
      JOIN seeds s ON s.mode = gn.mode AND s.metric = gn.metric AND s.x_axis = gn.x_axis
                  AND s.bgroup = gn.bgroup
      LEFT JOIN sb ON sb.mode = gn.mode AND sb.cell = gn.cell AND sb.metric = gn.metric
                  AND sb.x_axis = gn.x_axis AND sb.seed = s.seed
),
seg AS MATERIALIZED (
    SELECT c.*, lead(u) OVER w AS u1, lead(b) OVER w AS b1 FROM curve c
    WINDOW w AS (PARTITION BY mode, metric, x_axis, bgroup, direction, seed ORDER BY u)
),
-- the values to match: the pair's own (seed -1: the means), each seed's
want AS MATERIALIZED (
    SELECT gn.mode, gn.metric, gn.x_axis, gn.bgroup, gn.cell, gn.unique_tokens AS u, d.direction,
           -1 AS seed, CASE d.direction WHEN 'ar_equivalent' THEN gn.mdm_best ELSE gn.ar_best END AS y
      FROM gn CROSS JOIN dirs d WHERE gn.nb >= 2
    UNION ALL
    SELECT gn.mode, gn.metric, gn.x_axis, gn.bgroup, gn.cell, gn.unique_tokens, d.direction, sb.seed,
           CASE d.direction WHEN 'ar_equivalent' THEN sb.mdm_b ELSE sb.ar_b END
      FROM gn CROSS JOIN dirs d
      JOIN sb ON sb.mode = gn.mode AND sb.cell = gn.cell AND sb.metric = gn.metric AND sb.x_axis = gn.x_axis
     WHERE gn.nb >= 2
),
hit AS MATERIALIZED (
    SELECT w.mode, w.metric, w.x_axis, w.bgroup, w.cell, w.u, w.direction, w.seed, w.y, min(s.u) AS u0
      FROM want w
      LEFT JOIN seg s ON s.mode = w.mode AND s.metric = w.metric AND s.x_axis = w.x_axis
       AND s.bgroup = w.bgroup AND s.direction = w.direction AND s.seed = w.seed
       AND s.u1 IS NOT NULL AND s.b IS NOT NULL AND s.b1 IS NOT NULL AND s.u > 0 AND s.u1 > 0
       AND ((w.y >= s.b AND w.y <= s.b1) OR (w.y <= s.b AND w.y >= s.b1))
     GROUP BY w.mode, w.metric, w.x_axis, w.bgroup, w.cell, w.direction, w.seed
),
eq AS MATERIALIZED (
    SELECT h.*, CASE WHEN h.u0 IS NULL THEN NULL WHEN s.b1 = s.b THEN s.u
                     ELSE exp(ln(s.u) + (ln(s.u1) - ln(s.u)) * (h.y - s.b) / (s.b1 - s.b)) END AS u_eq
      FROM hit h
      LEFT JOIN seg s ON s.mode = h.mode AND s.metric = h.metric AND s.x_axis = h.x_axis
                     AND s.bgroup = h.bgroup AND s.direction = h.direction AND s.seed = h.seed AND s.u = h.u0
),
lx AS (
    SELECT e.*, avg(e.l) OVER (PARTITION BY mode, metric, x_axis, cell, direction) AS mean
      FROM (SELECT eq.*, CASE direction WHEN 'ar_equivalent' THEN ln(u_eq / u) ELSE ln(u / u_eq) END AS l
              FROM eq WHERE seed >= 0 AND u_eq IS NOT NULL) e
),
lr0 AS (
    SELECT mode, metric, x_axis, cell, direction, count(*) AS m, max(mean) AS mean,
           sum((l - mean) * (l - mean)) AS ss
      FROM lx GROUP BY mode, metric, x_axis, cell, direction
),
lr AS MATERIALIZED (
    SELECT lr0.*, coalesce((SELECT t FROM tq WHERE df = lr0.m - 1),
                           1.959964 + (1.959964 * 1.959964 * 1.959964 + 1.959964) / (4 * (lr0.m - 1.0))
                           + (5 * 1.959964 * 1.959964 * 1.959964 * 1.959964 * 1.959964
                              + 16 * 1.959964 * 1.959964 * 1.959964 + 3 * 1.959964)
                             / (96 * (lr0.m - 1.0) * (lr0.m - 1.0))) AS t
      FROM lr0
)
SELECT p.metric, p.x_axis, p.mode, p.model, p.quality, e.direction, p.unique_tokens, e.y AS value,
       e.u_eq AS equivalent_tokens,
       CASE e.direction WHEN 'ar_equivalent' THEN e.u_eq / e.u ELSE e.u / e.u_eq END AS ratio,
       CASE WHEN l.m >= 2 THEN exp(l.mean - l.t * sqrt(l.ss / (l.m - 1)) / sqrt(l.m)) END AS ratio_lo,
       CASE WHEN l.m >= 2 THEN exp(l.mean + l.t * sqrt(l.ss / (l.m - 1)) / sqrt(l.m)) END AS ratio_hi,
       coalesce(l.m, 0) AS seeds,
       CASE WHEN e.u_eq IS NULL THEN 'beyond the grid' ELSE 'ok' END AS status, p.epochs, p.cell
  FROM eq e
  JOIN gn p ON p.mode = e.mode AND p.metric = e.metric AND p.x_axis = e.x_axis AND p.cell = e.cell
  LEFT JOIN lr l ON l.mode = e.mode AND l.metric = e.metric AND l.x_axis = e.x_axis AND l.cell = e.cell
                AND l.direction = e.direction
 WHERE e.seed = -1;
