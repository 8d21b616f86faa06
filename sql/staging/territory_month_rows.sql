-- The new contents of the month being loaded, prepared before anything live changes: the typed rows of this
-- load that can be loaded (a usable RepCRD), plus the month's rows from territories this load does not bring;
-- rep_rank = 1 marks each rep's most complete record (fewest nulls; ties broken by territory, then file
-- position) — spec §5.1.3. The quarantine and the row accounting read {{ staged_table }}; the swap
-- (Session.replace_partitions) moves it into staging.stg_territory_reps. The filter on snapshot_date prunes
-- to the month's partition. All are intermediates (Session.scratch: temporary on DuckDB).
--
-- The rank is computed on the narrow key columns of the reps that appear more than once in the month (a
-- few percent of rows; every other row is its rep's only record, rank 1) and joined back on the row's
-- identity (territory, file, line: unique within a month, as a load refuses two files of one name):
-- ranking the wide rows makes the window carry every column through its sort. {{ staged_table }} is a view, so the wide rows are written
-- once, by the swap itself; the month's other territories are copied out first because the swap replaces
-- the partition they are read from.
create or replace {{ scratch_kind }} {{ other_rows }} as
select load_id, file_name, territory, snapshot_month, snapshot_date, line, extra_json, completeness,
  parse_failures, {{ staged_names }}
from staging.stg_territory_reps
where snapshot_date = {{ snapshot_date }}
  and territory not in (select distinct territory from {{ typed_rows }});

create or replace {{ scratch_kind }} {{ month_ranks }} as
with month_keys as (
  select territory, file_name, line, snapshot_month, RepCRD, completeness from {{ other_rows }}
  union all
  select territory, file_name, line, snapshot_month, RepCRD, completeness from {{ typed_rows }}
  where RepCRD is not null
),

shared_reps as (
  select snapshot_month, RepCRD
  from month_keys
  group by snapshot_month, RepCRD
  having count(*) > 1
)

select
  k.territory,
  k.file_name,
  k.line,
  row_number() over (
    partition by k.snapshot_month, k.RepCRD
    order by k.completeness desc, k.territory, k.file_name, k.line
  ) as rep_rank
from month_keys as k
inner join shared_reps as d using (snapshot_month, RepCRD);

create or replace {{ scratch_view }} {{ staged_table }} as
select o.*, coalesce(r.rep_rank, 1) as rep_rank
from {{ other_rows }} as o
left join {{ month_ranks }} as r using (territory, file_name, line)

union all

select t.load_id, t.file_name, t.territory, t.snapshot_month, {{ snapshot_date }} as snapshot_date, t.line,
  t.extra_json, t.completeness, t.parse_failures, {{ typed_staged_names }}, coalesce(r.rep_rank, 1) as rep_rank
from {{ typed_rows }} as t
left join {{ month_ranks }} as r using (territory, file_name, line)
where t.RepCRD is not null
