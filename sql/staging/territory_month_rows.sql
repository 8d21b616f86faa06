-- The new contents of the month being loaded: the rows of that month from territories this load does not
-- bring, plus the load's rows; rep_rank = 1 marks each rep's most complete record (fewest nulls; ties
-- broken by territory, then file position) — spec §5.1.3. The filter on snapshot_date prunes to the
-- month's partition.
with month_rows as (
  select load_id, file_name, territory, snapshot_month, snapshot_date, line, extra_json, completeness,
    parse_failures, {{ staged_names }}
  from staging.stg_territory_reps
  where snapshot_date = {{ snapshot_date }}
    and territory not in (select distinct territory from staging.territory_load_rows)

  union all

  select load_id, file_name, territory, snapshot_month, snapshot_date, line, extra_json, completeness,
    parse_failures, {{ staged_names }}
  from staging.territory_load_rows
)

select
  *,
  row_number() over (
    partition by snapshot_month, RepCRD
    order by completeness desc, territory, file_name, line
  ) as rep_rank
from month_rows
