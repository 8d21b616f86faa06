-- Unparseable cells and unloadable rows per column, for the loads behind the current tables.
select
  l.kind,
  q.column_name,
  q.reason,
  count(*) as failures
from staging.quarantine as q
inner join raw.file_loads as l on q.load_id = l.load_id and q.file_name = l.file_name
where q.load_id in (select distinct load_id from marts.dim_reps_current)
  or q.load_id in (select distinct load_id from marts.dim_leads)
group by l.kind, q.column_name, q.reason
order by failures desc
