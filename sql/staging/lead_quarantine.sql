-- Quarantine for the current lead load: unparseable cells, and rows without a Lead Id.
insert into staging.quarantine (load_id, file_name, line, column_name, raw_value, reason)
{{ cell_failures }}
union all
select load_id, file_name, line, 'Id' as column_name, v__Id as raw_value, 'row not loaded: Id is empty' as reason
from staging.lead_cells
where Id is null
