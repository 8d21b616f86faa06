-- The new contents of the month being loaded, materialised before anything live changes: the typed rows of
-- this load that can be loaded (a usable RepCRD), plus the month's rows from territories this load does not
-- bring; rep_rank = 1 marks each rep's most complete record (fewest nulls; ties broken by territory, then
-- file position) — spec §5.1.3. The quarantine and the row accounting read this table; the swap
-- (Session.replace_partitions) moves it into staging.stg_territory_reps. The filter on snapshot_date prunes
-- to the month's partition. Intermediates (Session.scratch: temporary tables on DuckDB).
--
-- The rank is computed on the narrow key columns and joined back on the row's identity (territory, file,
-- line: unique within a month, as a load refuses two files of one name): ranking the wide rows themselves
-- makes the window operator carry every column through its sort, twice the time of the whole join.
create or replace {{ scratch_kind }} {{ month_typed }} as
with month_rows as (
  select load_id, file_name, territory, snapshot_month, snapshot_date, line, extra_json, completeness,
    parse_failures, {{ staged_names }}
  from staging.stg_territory_reps
  where snapshot_date = {{ snapshot_date }}
    and territory not in (select distinct territory from {{ typed_rows }})

  union all

  select load_id, file_name, territory, snapshot_month, {{ snapshot_date }} as snapshot_date, line, extra_json,
    completeness, parse_failures, {{ staged_names }}
  from {{ typed_rows }}
  where RepCRD is not null
)

select * from month_rows;

create or replace {{ scratch_kind }} {{ staged_table }} as
with ranks as (
  select
    territory,
    file_name,
    line,
    row_number() over (
      partition by snapshot_month, RepCRD
      order by completeness desc, territory, file_name, line
    ) as rep_rank
  from {{ month_typed }}
)

select m.*, r.rep_rank
from {{ month_typed }} as m
inner join ranks as r using (territory, file_name, line);

drop table {{ month_typed }}
