-- Quarantine for the current territory load: one row per unparseable cell (the row is still loaded
-- with NULL there) and one per row that cannot be loaded at all (no usable RepCRD).
insert into staging.quarantine (load_id, file_name, line, column_name, raw_value, reason)
{{ cell_failures }}
union all
select
  load_id,
  file_name,
  line,
  'RepCRD' as column_name,
  v__RepCRD as raw_value,
  case
    when v__RepCRD is null then 'row not loaded: RepCRD is empty'
    else 'row not loaded: RepCRD is not a CRD number'
  end as reason
from staging.territory_cells
where RepCRD is null
