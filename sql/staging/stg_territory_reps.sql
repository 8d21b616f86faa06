-- Typed territory rows, all months and territories loaded so far. A load replaces exactly the
-- (month, territory) pairs it brings. Rows without a usable RepCRD are quarantined, not loaded.
create table if not exists staging.stg_territory_reps as
select load_id, file_name, territory, snapshot_month, line, extra_json, completeness, parse_failures, {{ staged_names }}
from staging.territory_typed
where false;

delete from staging.stg_territory_reps
where concat(snapshot_month, '|', territory) in (
  select distinct concat(snapshot_month, '|', territory) from raw.territory_rows
);

insert into staging.stg_territory_reps (
  load_id, file_name, territory, snapshot_month, line, extra_json, completeness, parse_failures, {{ staged_names }}
)
select load_id, file_name, territory, snapshot_month, line, extra_json, completeness, parse_failures, {{ staged_names }}
from staging.territory_typed
where RepCRD is not null
