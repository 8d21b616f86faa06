-- Quarantine for the current territory load: one row per unparseable cell (the row is still loaded,
-- with NULL there) and one per row that cannot be loaded at all (no usable RepCRD).
insert into staging.quarantine (load_id, file_name, line, column_name, raw_value, reason)
with failed as (
  select s.load_id, s.file_name, s.line, column_name
  from staging.territory_month_rows as s
  cross join unnest(split(s.parse_failures, ';')) as column_name
  where s.load_id = {{ load_id }} and s.parse_failures != '' and column_name != ''
)

select
  f.load_id,
  f.file_name,
  f.line,
  f.column_name,
  case f.column_name {{ raw_value_cases }} end as raw_value,
  case f.column_name {{ reason_cases }} end as reason
from failed as f
inner join raw.territory_rows as r on f.file_name = r.file_name and f.line = r.line

union all

select
  r.load_id,
  r.file_name,
  r.line,
  'RepCRD' as column_name,
  {{ row_key_raw }} as raw_value,
  if({{ row_key_cleaned }} is null, 'row not loaded: RepCRD is empty', 'row not loaded: RepCRD is not a CRD number') as reason
from raw.territory_rows as r
where {{ row_key_parsed }} is null
