-- Bookkeeping tables every other model relies on. Idempotent: run on every start.
create table if not exists ops.audit_log (
  event_id string,
  at timestamp,
  actor string,
  role string,
  action string,
  target string,
  outcome string,
  detail string
);

create table if not exists raw.file_loads (
  load_id string,
  kind string,
  file_name string,
  territory string,
  snapshot_month string,
  sha256 string,
  archive_path string,
  encoding string,
  rows_read int64,
  rows_loaded int64,
  rows_quarantined int64,
  cells_quarantined int64,
  extra_columns string,
  export_at timestamp,
  loaded_at timestamp,
  loaded_by string
);

create table if not exists staging.quarantine (
  load_id string,
  file_name string,
  line int64,
  column_name string,
  raw_value string,
  reason string
);

create table if not exists marts.reconciliation_reports (
  report_id string,
  created_at timestamp,
  created_by string,
  report_json string
);

create table if not exists ml.feature_sets (
  feature_set_id string,
  created_at timestamp,
  as_of timestamp,
  window_days int64,
  levels_json string,
  features_json string,
  status_counts_json string,
  fingerprint string
);

create table if not exists ml.models (
  model_id string,
  created_at timestamp,
  created_by string,
  kind string,
  training_fingerprint string,
  feature_set_fingerprint string,
  features_json string,
  params_json string,
  metrics_json string,
  gates_json string,
  gates_passed bool,
  is_champion bool,
  artifact_dir string,
  notes string
);

create table if not exists ml.model_events (
  at timestamp,
  actor string,
  action string,
  model_id string,
  previous_champion string,
  reason string
);

create table if not exists ops.runs (
  run_id string,
  kind string,
  started_at timestamp,
  finished_at timestamp,
  actor string,
  outcome string,
  as_of timestamp,
  counts_json string,
  timings_json string,
  error string
);

create table if not exists ops.capacity (
  sga_count int64,
  dials_per_day int64,
  set_by string,
  set_at timestamp
);

-- Salesforce sync (core/salesforce/result.py). One row per pull, push or dry run; sf_object: Lead, or Task for a
-- pull of call activity; pulled_since: an incremental Task pull's start (the Tasks changed since), NULL for a full
-- pull (both added later: older warehouses gain them at their next sync).
create table if not exists ops.sf_syncs (
  sync_id string,
  kind string,
  actor string,
  started_at timestamp,
  finished_at timestamp,
  outcome string,
  rows_intended int64,
  rows_sent int64,
  rows_succeeded int64,
  rows_failed int64,
  rows_deferred int64,
  retries int64,
  job_ids string,
  message string,
  seconds float64,
  sf_object string,
  pulled_since timestamp
);

-- What Salesforce holds, per lead, from this engine: the hash of the last values that landed.
create table if not exists ops.sf_writeback_ledger (
  lead_id string,
  values_hash string,
  values_json string,
  sent_at timestamp,
  job_id string,
  sync_id string
);

-- Every intended update that did not land, with Salesforce's error (or why it was deferred).
create table if not exists ops.sf_push_failures (
  sync_id string,
  lead_id string,
  job_id string,
  kind string,
  error_code string,
  error_message string,
  attempts int64,
  recorded_at timestamp,
  resolved_at timestamp
);

-- Bulk jobs whose rows are in flight: a job whose results could not be read (the run stopped) is
-- reconciled by the next push before anything is sent again, so no row lands twice.
create table if not exists ops.sf_jobs (
  job_id string,
  sync_id string,
  created_at timestamp,
  row_count int64,
  rows_json string,
  reconciled bool
);

-- Experiments designed in the engine (spec §8): one row per experiment; status running or stopped.
create table if not exists ops.experiments (
  name string,
  kind string,
  arms string,
  split float64,
  hidden_arms string,
  strata string,
  start_at timestamp,
  planned_end_at timestamp,
  mde float64,
  planned_leads int64,
  seed int64,
  model_version string,
  status string,
  created_at timestamp,
  created_by string,
  stopped_at timestamp,
  design_json string
);

-- Lead-level assignments, append-only: a lead enters at most one running experiment, once, with the
-- stratum it was blocked in, its position in that stratum, and the champion's score at assignment.
create table if not exists ops.experiment_assignments (
  experiment string,
  lead_id string,
  arm string,
  stratum string,
  position int64,
  contacted_at timestamp,
  score_at_assignment float64,
  split float64,
  assigned_at timestamp
);

-- Leads whose score, tier and drivers were cleared in Salesforce because they left the scored population.
create table if not exists ops.sf_cleared (
  lead_id string,
  reason string,
  sync_id string,
  cleared_at timestamp
);
