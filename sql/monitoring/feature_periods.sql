-- What changed in the lead features since the last monitoring run, without reading them: per contact month and
-- week (Monday), and whether the contact is inside the attribution window, the rows and a fingerprint of their
-- values (XOR of 60-bit row hashes: the lead, its contact time and every feature; not its label, which matures
-- after contact and moves neither drift nor attributions). Any changed value of any row changes it.
-- Monitoring reuses a month's drift, and a week's attribution, while its fingerprint is the one they were
-- computed from. The row hash is written so that BigQuery (and its emulator) run it as is; DuckDB hashes the
-- row itself (core/warehouse/sql.py: the JSON text of ~140 columns costs ~10x more than the hash).
select
  format_timestamp('%Y-%m', f.contacted_at) as month,
  format_date('%Y-%m-%d', date_trunc(date(f.contacted_at), week(monday))) as week,
  f.contacted_at > {{ since }} as in_window,
  count(*) as n,
  bit_xor(cast(concat('0x', substr(to_hex(md5(to_json_string(f))), 1, 15)) as int64)) as fingerprint
from (select * except ({{ not_fingerprinted }}) from ml.lead_features) as f
where f.contacted_at <= {{ as_of }}
group by month, week, in_window
