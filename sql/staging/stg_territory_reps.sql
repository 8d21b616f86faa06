-- Every typed territory row of every month loaded so far (all territories, before de-duplication), with
-- rep_rank = 1 on the record that represents the rep in its month (marts.dim_rep_snapshots).
-- Partitioned by snapshot month, clustered by CRD. Created empty here; a load fills it with one atomic
-- partition replace from staging.territory_month_rows (Session.replace_partitions).
create table if not exists staging.stg_territory_reps
partition by date_trunc(snapshot_date, month)
cluster by RepCRD
as
select load_id, file_name, territory, snapshot_month, cast(null as date) as snapshot_date, line, extra_json,
  completeness, parse_failures, {{ staged_names }}, cast(0 as int64) as rep_rank
from {{ typed_rows }}
where false
