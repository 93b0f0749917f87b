-- mesascope store, schema version 3 (version 1 lacked the lease columns, version 2 the training id
-- and the agents' knob values; db.MIGRATIONS adds them).
--
-- Applied as one script when a store is created. Every statement is idempotent so two processes
-- racing to create the same file end with one schema. SQLite stores NaN as NULL, so the nullable
-- REAL columns below read back NULL as NaN; the numbers in the result rows are never missing.
-- Bump SCHEMA_VERSION in db.py together with the version inserted at the end.

BEGIN IMMEDIATE;

CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS runs (
    run_id          TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    world           TEXT NOT NULL,
    config_json     TEXT NOT NULL,
    code_version    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    created_at      TEXT NOT NULL,   -- ISO 8601, UTC, microseconds
    finished_at     TEXT,            -- set when the run finishes or fails
    failure_reason  TEXT,
    objectives_json TEXT,            -- JSON list, intended objective first
    shift_name      TEXT,
    thresholds_json TEXT,            -- JSON object name -> float
    timings_json    TEXT,            -- JSON object phase -> seconds
    curves_json     TEXT,            -- JSON: curve_steps, their dtype, and metric names/dtypes/shapes
    owner_pid       INTEGER,         -- the lease of a running run: the computing process,
    owner_host      TEXT,            -- its host,
    heartbeat_at    TEXT,            -- and when it last said it was alive (ISO 8601, UTC)
    training_id     TEXT             -- hash of what determines the trained parameters (runs sharing it share training)
);

CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, finished_at);

CREATE TABLE IF NOT EXISTS agents (
    id          INTEGER PRIMARY KEY,  -- insertion order, so lists round-trip in order
    run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    agent       INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    train_shift REAL,
    knobs_json  TEXT NOT NULL DEFAULT '{}',  -- JSON object: traced knob -> value
    UNIQUE (run_id, agent)
);

CREATE TABLE IF NOT EXISTS curves (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    agent  INTEGER NOT NULL,
    u      INTEGER NOT NULL,          -- update index into curve_steps
    step   REAL,                      -- environment steps at that update (for queries)
    value  REAL,
    PRIMARY KEY (run_id, metric, agent, u)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS evaluations (
    id              INTEGER PRIMARY KEY,
    run_id          TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    agent           INTEGER NOT NULL,
    distribution    TEXT NOT NULL,
    objective       TEXT NOT NULL,
    mean_return     REAL,
    return_low      REAL,
    return_high     REAL,
    mean_normalised REAL,
    normalised_low  REAL,
    normalised_high REAL,
    episodes        INTEGER NOT NULL,
    undefined       INTEGER NOT NULL,
    UNIQUE (run_id, agent, distribution, objective)
);

CREATE TABLE IF NOT EXISTS inferences (
    id              INTEGER PRIMARY KEY,
    run_id          TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    agent           INTEGER NOT NULL,
    distribution    TEXT NOT NULL,
    hypothesis      TEXT NOT NULL,
    beta            REAL,
    loglik_per_step REAL,
    loglik_low      REAL,
    loglik_high     REAL,
    posterior       REAL,
    posterior_low   REAL,
    posterior_high  REAL,
    UNIQUE (run_id, agent, distribution, hypothesis)
);

CREATE TABLE IF NOT EXISTS verdicts (
    id            INTEGER PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    agent         INTEGER NOT NULL,
    distribution  TEXT NOT NULL,
    verdict       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    evidence_json TEXT NOT NULL,
    UNIQUE (run_id, agent, distribution)
);

CREATE TABLE IF NOT EXISTS artifacts (
    id        INTEGER PRIMARY KEY,
    run_id    TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,          -- 'episodes', 'gif', 'file' (params, checkpoints), ...
    name      TEXT NOT NULL,          -- e.g. the GIF caption
    path      TEXT NOT NULL,          -- relative to the artifact root, '/'-separated
    sha256    TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    meta_json TEXT NOT NULL DEFAULT '{}',
    UNIQUE (run_id, kind, name)
);

INSERT INTO schema_version (version)
SELECT 3 WHERE NOT EXISTS (SELECT 1 FROM schema_version);

COMMIT;
