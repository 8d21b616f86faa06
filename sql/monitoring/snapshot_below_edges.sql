-- Territory-month drift and feed health (spec §9.2) for every numeric MarketPro column at once: per month, the
-- reps, and per column how many values are missing, below each of the champion's frozen reference edges, and
-- outside the catalog's plausible range. One scan of the months being measured: the bin counts are the
-- differences of the "below" counts (core/monitoring/reference.py), no month's values reach Python.
-- period: the partition column snapshot_date (snapshot_month on a warehouse not yet migrated).
select
  {{ period }} as period,
  count(*) as n,
  {{ counts }}
from marts.dim_rep_snapshots
where {{ months }}
group by period
