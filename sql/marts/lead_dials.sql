-- Dials per contacted Lead inside its outcome window: from contact to contact + {{ window_days }} days
-- (and no later than as_of), stopping at the MQL when one was booked (later calls are not outreach).
-- A query, run at readout time over the current labels.
select
  l.lead_id,
  count(t.task_id) as dials,
  countif(t.call_seconds > 0) as connected_dials,
  count(distinct t.owner_id) as sgas
from ml.lead_labels as l
left join marts.fact_tasks as t
  on t.lead_id = l.lead_id
  and t.is_dial
  and t.created_at >= l.contacted_at
  and t.created_at < timestamp_add(l.contacted_at, interval {{ window_days }} day)
  and t.created_at <= l.as_of
  and (l.mql_at is null or l.mql_at < l.contacted_at or t.created_at <= l.mql_at)
where l.contacted_at is not null
group by l.lead_id
