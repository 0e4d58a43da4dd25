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

-- @views: every view, once, in its current form (see VIEWS at the top)

-- THE RULE of which way a metric improves, and the one place it is written:
-- a metric whose name matches one of these LIKE patterns (so in any case) is
-- better lower ('min': losses, NLL, ELBO bounds, perplexities); every other
-- name (mc_acc, ...) is better higher ('max'). The views below look a name up
-- as coalesce((SELECT better FROM metric_rule WHERE name LIKE pattern), 'max');
-- the C code (db_metric_lower_better, orchestrator/db/db_schema.c) reads this
-- view from the text of this file. A rule kept as rows, not as a function
-- registered in C, keeps every view readable from the plain sqlite3 shell.
CREATE VIEW metric_rule (pattern, better) AS
VALUES ('%loss', 'min'), ('%nll', 'min'), ('%elbo', 'min'), ('%ppl', 'min');

-- One row per series (run, metric name), found by hopping the primary key
-- from one series to the next (a handful of index seeks per series instead of
-- a scan of every point: this is what keeps run_final and run_best fast).
--   better     'min' or 'max': the direction in which the metric improves
--              (metric_rule)
--   last_step  the largest step recorded
--   best_value the best value in that direction (non-NULL values only)
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
d (run_id, name, better) AS (
    SELECT run_id, name,
           coalesce((SELECT r.better FROM metric_rule r WHERE s.name LIKE r.pattern), 'max')
      FROM s WHERE run_id IS NOT NULL
)
SELECT d.run_id, d.name, d.better,
       (SELECT max(m.step) FROM metrics m WHERE m.run_id = d.run_id AND m.name = d.name) AS last_step,
       CASE d.better
           WHEN 'min' THEN (SELECT min(m.value) FROM metrics m WHERE m.run_id = d.run_id AND m.name = d.name)
           ELSE (SELECT max(m.value) FROM metrics m WHERE m.run_id = d.run_id AND m.name = d.name)
       END AS best_value
  FROM d;

-- The last point of every series, with the run's axes: "where did each run end?"
CREATE VIEW run_final AS
SELECT r.id AS run_id, r.key, r.objective, r.model, r.params, r.unique_tokens, r.quality,
       r.epochs, r.seed, r.status,
       m.name, m.step, m.tokens, m.epoch, m.flops, m.value
  FROM metric_series s
  JOIN metrics m ON m.run_id = s.run_id AND m.name = s.name AND m.step = s.last_step
  JOIN runs r ON r.id = s.run_id;

-- The best point of every series (see metric_series for which direction is
-- better), with the run's axes; among equal best values, the earliest step.
-- The point's step/tokens/epoch/flops say where in training the best came
-- (for AR at small budgets: the onset of overfitting).
CREATE VIEW run_best AS
SELECT r.id AS run_id, r.key, r.objective, r.model, r.params, r.unique_tokens, r.quality,
       r.epochs, r.seed, r.status,
       m.name, s.better, m.step, m.tokens, m.epoch, m.flops, m.value
  FROM metric_series s
  JOIN metrics m ON m.run_id = s.run_id AND m.name = s.name
   AND m.step = (SELECT min(x.step) FROM metrics x
                  WHERE x.run_id = s.run_id AND x.name = s.name AND x.value = s.best_value)
  JOIN runs r ON r.id = s.run_id;

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
-- it out of the curves. (metric_series, run_final, run_best and curves list
-- it like any other name.)

-- Every AR or MDM run with its `cell`: the resolved config without
-- `objective`, `seed` and `train.early_stop_margin`. Runs of one cell differ
-- only in those: its AR runs are the seeds of one side of a pair, its MDM
-- runs the other side. The margin is left out because stopping early changes
-- nothing before the stop, so an AR run with a margin pairs with an MDM run
-- without one (or with another margin), everything else equal. cell_id, the
-- smallest run id of the cell, names it compactly (the views below group by
-- it: sorting integers, not configs).
-- The runs of one sweep:  ... WHERE cell IN (SELECT r.cell FROM crossover_runs r
--   JOIN sweep_runs sr ON sr.run_id = r.run_id JOIN sweeps s ON s.id = sr.sweep_id
--   WHERE s.name = 'demo')
CREATE VIEW crossover_runs AS
SELECT run_id, min(run_id) OVER (PARTITION BY cell) AS cell_id, key, objective, cell, model,
       params, unique_tokens, quality, epochs, seed, status
  FROM (SELECT id AS run_id, key, objective,
               json_remove(config, '$.objective', '$.seed', '$.train.early_stop_margin') AS cell,
               model, params, unique_tokens, quality, epochs, seed, status
          FROM runs
         WHERE objective IN ('ar', 'mdm'));

-- crossover_curves as in migration 2 (one row per (cell, objective, metric,
-- x_axis, x); seeds, value, sd, best), without the 'early_stop' rows, and
-- with one more column:
--   hold    the side's hold point on x_axis, the same on every row of the
--           side: when EVERY one of its seeds stopped early (has an
--           'early_stop' row; of several, the one of the largest step) with
--           a known x_hold, the smallest of their x_hold; NULL otherwise
--           (one seed that ran to its end, or whose stop point lacks this x,

-- The seed-aggregated learning curves: one row per (cell, objective, metric,
-- x_axis, x) for x_axis in 'tokens', 'epochs', 'flops' (metrics.tokens,
-- .epoch, .flops), without the 'early_stop' rows.
--   A run contributes its points whose value and x are known; where one run
--   has several points at one x, the one of the largest step.
--   seeds   the runs of (cell, objective) with at least one such point
--   x       kept only where EVERY one of those seeds has a point (so a seed
--           still training shortens the curve instead of skewing the mean)
--   value   the mean over the seeds; sd their sample standard deviation
--           (NULL for one seed)
--   better  'min' | 'max' (metric_rule)
--   best    best-so-far of `value` along x (running min or max): the value an
--           early-stopped run reaches by x
--   hold    the side's hold point on x_axis, the same on every row of the
--           side: when EVERY one of its seeds stopped early (has an
--           'early_stop' row; of several, the one of the largest step) with
--           a known x_hold, the smallest of their x_hold; NULL otherwise
--           (one seed that ran to its end, or whose stop point lacks this x,
--           and the side does not hold)
CREATE VIEW crossover_curves AS
WITH axis (x_axis) AS (VALUES ('tokens'), ('epochs'), ('flops')),
pt AS (
    SELECT r.cell_id, r.cell, r.objective, r.run_id, r.model, r.params, r.unique_tokens, r.quality,
           r.epochs, m.name AS metric, a.x_axis, m.step, m.value,
           CAST(CASE a.x_axis WHEN 'tokens' THEN m.tokens WHEN 'epochs' THEN m.epoch
                ELSE m.flops END AS REAL) AS x
      FROM crossover_runs r
      JOIN metrics m ON m.run_id = r.run_id
     CROSS JOIN axis a
     WHERE m.value IS NOT NULL AND m.name <> 'early_stop'
),
latest AS (
    SELECT pt.*, row_number() OVER (PARTITION BY run_id, metric, x_axis, x ORDER BY step DESC) AS k
      FROM pt WHERE x IS NOT NULL
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
seeds AS (
    SELECT l.cell_id, l.objective, l.metric, l.x_axis, count(*) AS n,
           CASE WHEN count(h.hold) = count(*) THEN min(h.hold) END AS hold,
           coalesce((SELECT r.better FROM metric_rule r WHERE l.metric LIKE r.pattern), 'max')
               AS better
      FROM (SELECT DISTINCT cell_id, objective, metric, x_axis, run_id FROM latest) l
      LEFT JOIN stop_x h ON h.run_id = l.run_id AND h.x_axis = l.x_axis
     GROUP BY l.cell_id, l.objective, l.metric, l.x_axis
),
centred AS (
    SELECT latest.*, avg(value) OVER (PARTITION BY cell_id, objective, metric, x_axis, x) AS mean
      FROM latest WHERE k = 1
),
agg AS (
    SELECT cell_id, max(cell) AS cell, objective, metric, x_axis, x, count(*) AS k,
           max(mean) AS mean,
           sum((value - mean) * (value - mean)) AS ss, max(model) AS model,
           max(params) AS params, max(unique_tokens) AS unique_tokens, max(quality) AS quality,
           max(epochs) AS epochs
      FROM centred GROUP BY cell_id, objective, metric, x_axis, x
),
kept AS (
    SELECT a.*, s.n AS seeds, s.hold AS hold, s.better AS better
      FROM agg a JOIN seeds s USING (cell_id, objective, metric, x_axis)
     WHERE a.k = s.n
)
SELECT cell_id, cell, objective, model, params, unique_tokens, quality, epochs, metric, better, x_axis,
       x, mean AS value, CASE WHEN seeds > 1 THEN sqrt(ss / (seeds - 1)) END AS sd, seeds,
       CASE better WHEN 'min' THEN min(mean) OVER w ELSE max(mean) OVER w END AS best,
       hold
  FROM kept
WINDOW w AS (PARTITION BY cell_id, objective, metric, x_axis ORDER BY x);

-- The crossover of every pair: one row per (cell, metric, x_axis) where both
-- objectives have a curve in crossover_curves.
-- THIS IS THE ONE DEFINITION of the crossover: README, docs/ and the C code
-- (orchestrator/analysis/, which computes the same rows for `xover
-- crossover`, held to the same numbers by tests/test_crossover.c) cite it.
--
-- THE DEFINITION. Let A(x) and M(x) be the AR and MDM best-so-far curves
-- (crossover_curves.best), each linearly interpolated between its own
-- evaluation points; a side that HOLDS (crossover_curves.hold is not NULL)
-- keeps its last best-so-far from its last point up to its hold. Each side
-- ends at the larger of its last x and its hold. The common range is
-- [x_start, x_end] = [the later first x, the earlier end], with x_end moved
-- back to the last evaluation x of either curve inside it (the curves have
-- no points but their own). At every evaluation x of either curve inside
-- it, the MDM advantage is adv(x) = A(x) - M(x) for a 'min' metric and
-- M(x) - A(x) for a 'max' one: positive when MDM is better. Between two such
-- points adv is linear, so with x_b the last point where adv <= 0:
--   verdict 'crossover'  x_b < x_end: crossover = the zero of adv between x_b
--                        and the next point: x_b + (x_n - x_b) * -adv_b / (adv_n - adv_b)
--   verdict 'mdm_ahead'  adv > 0 at every point: crossover = x_start
--   verdict 'none'       adv(x_end) <= 0: MDM is not ahead by the end of the
--                        budget; crossover is NULL
--   verdict 'no_overlap' the two curves share no x; crossover is NULL
-- WHY THE HOLD. Early stopping only cuts a curve short once the run has
-- clearly overfit (its validation loss a margin above its best); the
-- learning-rate schedule still spanned the planned length, so the run up to
-- the stop is the run it would have been; and the best-so-far is what an
-- early-stopped run delivers: its best checkpoint, kept to the end of the
-- planned budget. Without the hold, AR's curve would end at its stop and the
-- comparison with it. A side holds only when every seed stopped: one seed
-- that ran on still measures the rest of the curve, and its points say more
-- than a held value. Without any 'early_stop' row no side holds.
-- Columns:
--   metric, better, x_axis                which curve and against what
--   model .. epochs                       the cell's axes; cell is its config
--   ar_seeds, mdm_seeds                   seeds averaged on each side
--   crossover, x_start, x_end             in units of x_axis
--   final_gap                             adv(x_end): MDM's advantage at the end
--   ar_best, ar_best_x, ar_best_sd        the best mean value of the AR curve
--                                         over ALL its points, the earliest x
--                                         reaching it (the onset of overfitting
--                                         when AR then gets worse) and the seed
--                                         sd there; mdm_* the same for MDM
CREATE VIEW crossover AS
WITH c AS MATERIALIZED (SELECT * FROM crossover_curves),
pairs AS (
    SELECT cell_id, metric, x_axis FROM c
     GROUP BY cell_id, metric, x_axis HAVING count(DISTINCT objective) = 2
),
u AS MATERIALIZED (
    SELECT c.* FROM c JOIN pairs USING (cell_id, metric, x_axis)
),
holds AS (
    SELECT cell_id, metric, x_axis,
           max(CASE WHEN objective = 'ar' THEN hold END) AS ah,
           max(CASE WHEN objective = 'mdm' THEN hold END) AS mh
      FROM u GROUP BY cell_id, metric, x_axis
),
knots AS (
    SELECT cell_id, metric, better, x_axis, x,
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
    WINDOW lo AS (PARTITION BY cell_id, metric, x_axis ORDER BY x
                  RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           hi AS (PARTITION BY cell_id, metric, x_axis ORDER BY x
                  RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
),
-- Past a side's last point (no knot >= x: ax1 or mx1 NULL) only up to its
-- hold, at the value of its last point (ab0, mb0: the best-so-far there).
interp AS (
    SELECT k.cell_id, k.metric, k.better, k.x_axis, k.x,
           CASE WHEN k.ax1 IS NULL OR k.ax1 = k.ax0 THEN k.ab0
                ELSE k.ab0 + (k.ab1 - k.ab0) * (k.x - k.ax0) / (k.ax1 - k.ax0) END AS a,
           CASE WHEN k.mx1 IS NULL OR k.mx1 = k.mx0 THEN k.mb0
                ELSE k.mb0 + (k.mb1 - k.mb0) * (k.x - k.mx0) / (k.mx1 - k.mx0) END AS m
      FROM knots k
      JOIN holds h ON h.cell_id = k.cell_id AND h.metric = k.metric AND h.x_axis = k.x_axis
     WHERE k.ax0 IS NOT NULL AND (k.ax1 IS NOT NULL OR k.x <= h.ah)
       AND k.mx0 IS NOT NULL AND (k.mx1 IS NOT NULL OR k.x <= h.mh)
     GROUP BY k.cell_id, k.metric, k.x_axis, k.x
),
adv AS (
    SELECT cell_id, metric, x_axis, x, adv,
           lead(x) OVER p AS x_n, lead(adv) OVER p AS adv_n,
           max(x) OVER whole AS x_end,
           max(CASE WHEN adv <= 0 THEN x END) OVER whole AS x_b
      FROM (SELECT cell_id, metric, x_axis, x,
                   CASE better WHEN 'min' THEN a - m ELSE m - a END AS adv FROM interp)
    WINDOW p AS (PARTITION BY cell_id, metric, x_axis ORDER BY x),
           whole AS (PARTITION BY cell_id, metric, x_axis)
),
range AS (
    SELECT cell_id, metric, x_axis, min(x) AS x_start, max(x) AS x_end,
           max(CASE WHEN x = x_end THEN adv END) AS final_gap,
           max(x_b) AS x_b,
           max(CASE WHEN x = x_b AND x_n IS NOT NULL
                    THEN x + (x_n - x) * -adv / (adv_n - adv) END) AS cross_b
      FROM adv GROUP BY cell_id, metric, x_axis
),
best AS (
    SELECT u.cell_id, u.metric, u.x_axis, u.objective, min(u.x) AS best_x, u.sd AS best_sd,
           u.value AS best, u.seeds
      FROM u JOIN (SELECT cell_id, metric, x_axis, objective,
                          CASE WHEN better = 'min' THEN min(value) ELSE max(value) END AS bv
                     FROM u GROUP BY cell_id, metric, x_axis, objective) o
        ON o.cell_id = u.cell_id AND o.metric = u.metric AND o.x_axis = u.x_axis
       AND o.objective = u.objective AND u.value = o.bv
     GROUP BY u.cell_id, u.metric, u.x_axis, u.objective
),
axes AS (
    SELECT cell_id, max(cell) AS cell, metric, x_axis, max(better) AS better, max(model) AS model,
           max(params) AS params, max(unique_tokens) AS unique_tokens, max(quality) AS quality,
           max(epochs) AS epochs
      FROM u GROUP BY cell_id, metric, x_axis
)
SELECT x.metric, x.better, x.x_axis, x.model, x.params, x.unique_tokens, x.quality, x.epochs,
       ba.seeds AS ar_seeds, bm.seeds AS mdm_seeds,
       CASE WHEN r.x_end IS NULL THEN 'no_overlap'
            WHEN r.final_gap <= 0 THEN 'none'
            WHEN r.x_b IS NULL THEN 'mdm_ahead'
            ELSE 'crossover' END AS verdict,
       CASE WHEN r.x_end IS NULL OR r.final_gap <= 0 THEN NULL
            WHEN r.x_b IS NULL THEN r.x_start
            ELSE r.cross_b END AS crossover,
       r.x_start, r.x_end, r.final_gap,
       ba.best AS ar_best, ba.best_x AS ar_best_x, ba.best_sd AS ar_best_sd,
       bm.best AS mdm_best, bm.best_x AS mdm_best_x, bm.best_sd AS mdm_best_sd,
       x.cell
  FROM axes x
  JOIN best ba ON ba.cell_id = x.cell_id AND ba.metric = x.metric AND ba.x_axis = x.x_axis
              AND ba.objective = 'ar'
  JOIN best bm ON bm.cell_id = x.cell_id AND bm.metric = x.metric AND bm.x_axis = x.x_axis
              AND bm.objective = 'mdm'
  LEFT JOIN range r ON r.cell_id = x.cell_id AND r.metric = x.metric AND r.x_axis = x.x_axis;
