-- Point in time: each contacted lead reads the newest territory snapshot whose month is at or before its
-- contact month. Leads contacted before the first snapshot use the first one and are flagged at risk.
-- {{ known_shift }}: territory_known_day - 1. A month's snapshot exists from that day of the month on, so a lead
-- contacted earlier in the month reads the month before's (0: from the 1st).
-- {{ months }}: the months a join may use — those holding every territory (core.ingest.territories
-- .complete_months): a month whose T2 and T3 files are not loaded yet would leave their reps unmatched.
create or replace table ml.lead_snapshot_choice{{ build }} as
with months as (
  {{ months }}
),

first_month as (
  select min(snapshot_month) as snapshot_month from months
),

chosen as (
  select
    lb.lead_id,
    format_timestamp('%Y-%m', lb.contacted_at) as contact_month,
    max(case when m.snapshot_month
      <= format_timestamp('%Y-%m', timestamp_sub(lb.contacted_at, interval {{ known_shift }} day))
      then m.snapshot_month end) as snapshot_month
  from ml.lead_labels{{ build }} as lb
  cross join months as m
  group by lb.lead_id, format_timestamp('%Y-%m', lb.contacted_at)
)

select
  c.lead_id,
  c.contact_month,
  coalesce(c.snapshot_month, f.snapshot_month) as snapshot_month,
  c.snapshot_month is null as snapshot_at_risk
from chosen as c
cross join first_month as f
