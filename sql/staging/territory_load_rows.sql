-- The typed rows of the current load that can be loaded (a usable RepCRD), materialised once: the
-- quarantine, the row accounting and the month's new contents all read this, and no live table changes
-- until the swap.
create or replace table staging.territory_load_rows as
select load_id, file_name, territory, snapshot_month, date(concat(snapshot_month, '-01')) as snapshot_date, line,
  extra_json, completeness, parse_failures, {{ staged_names }}
from staging.territory_typed
where RepCRD is not null
