-- Territory-month drift and feed health (spec §9.2): one MarketPro column of the territory months being measured,
-- counted by the warehouse in the champion's frozen reference bins, every month in one pass, so no month sits in
-- Python. The bin: for a number, how many of the reference's quantile edges lie at or below the value (the
-- missing bin is the last); for a category, the level as text (folded into top levels, other and missing in
-- Python). out_of_range: a number outside the catalog's plausible range (false when none is declared).
-- period: the partition column snapshot_date (a date groups ~25% faster than the month's text over 6M reps),
-- snapshot_month on a warehouse not yet migrated; the caller names the month either way.
select
  {{ period }} as period,
  {{ bin }} as bin,
  count(*) as n,
  countif({{ out_of_range }}) as out_of_range
from marts.dim_rep_snapshots
where {{ months }}
group by period, bin
