-- Territory-month drift (spec §9.2) of one categorical MarketPro column: the territory months being measured,
-- counted per level by the warehouse, every month in one pass, so no month sits in Python (the levels are
-- folded into the champion's frozen top levels, other and missing in Python). Numeric columns are counted all
-- at once by snapshot_below_edges.sql.
-- period: the partition column snapshot_date (a date groups ~25% faster than the month's text over 6M reps),
-- snapshot_month on a warehouse not yet migrated; the caller names the month either way.
select
  {{ period }} as period,
  {{ bin }} as bin,
  count(*) as n
from marts.dim_rep_snapshots
where {{ months }}
group by period, bin
