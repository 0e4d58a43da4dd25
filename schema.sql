-- schema.sql — the xover results database: the contract between the sweep
-- driver (the only writer), the analysis commands and a user with the plain
-- `sqlite3` shell. This file is compiled into the xover binary; it stays the
-- source of truth.
--
-- MIGRATIONS. The file is a sequence of sections, each opened by a line
--   -- @migration N: what it does
-- with N = 1, 2, 3, ... in order. A database records the last section applied
-- in PRAGMA user_version (and in meta.schema_version). Opening a database for
-- writing applies the missing sections in order, each in its own transaction,
-- so an old database is upgraded in place and a new one is built by running
-- them all. A section, once released, is never edited: change the schema by
-- appending a section (ALTER TABLE, CREATE VIEW ..., DROP VIEW + CREATE VIEW).
-- A database whose user_version is larger than the last section here was
-- written by a newer xover and is refused rather than misread.
--
-- CONVENTIONS. Times are ISO-8601 UTC text ('2025-01-31T12:00:00.000Z'), so
-- they read well and sort; durations: (julianday(b) - julianday(a)) * 86400.
-- Unknown values are NULL. Metric values that were not finite are NULL.

-- @migration 1: the initial schema: meta, sweeps, runs, sweep_runs, metrics and the views

-- Facts about the database itself, as key/value text.
--   schema_version  the last migration applied (mirrors PRAGMA user_version)
--   created_at      when migration 1 ran
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

-- One row per series (run, metric name), found by hopping the primary key
-- from one series to the next (a handful of index seeks per series instead of
-- a scan of every point: this is what keeps run_final and run_best fast).
--   better     'min' or 'max': the direction in which the metric improves.
--              THE RULE: a name ending in 'loss', 'nll', 'elbo' or 'ppl'
--              (any case) is lower-better; every other name (mc_acc, ...) is
--              higher-better.
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
           CASE WHEN name LIKE '%loss' OR name LIKE '%nll' OR name LIKE '%elbo' OR name LIKE '%ppl'
                THEN 'min' ELSE 'max' END
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

-- (Crossover views arrive in a later migration section.)
