-- SGA adoption (spec §9.1, business impact): are the call lists worked in score order? For each new lead — first
-- scored within {{ near_contact_days }} days of contact, the day it first reached a call list — its score, its owner
-- and the follow-up dials of the next {{ days }} days (a dial is a Task with TaskSubtype = Call; the contact dial
-- itself and dials after an MQL is booked are not follow-ups), and when the first came. New leads only, so that a
-- high score is not simply a recent contact. Left out: leads first scored fewer than {{ days }} days before the
-- data's as-of (their window is still open) and leads whose MQL was booked before their first score.
select
  f.lead_id,
  f.score_date,
  f.prob,
  f.tier,
  f.backfilled,
  d.OwnerId as owner_id,
  d.Owner_Name as owner_name,
  count(t.task_id) as dials,
  min(t.created_at) as first_dial_at
from {{ first_scores }} as f
join ml.lead_labels as l on l.lead_id = f.lead_id
left join marts.dim_leads as d on d.Id = f.lead_id
left join marts.fact_tasks as t
  on t.lead_id = f.lead_id
  and t.is_dial
  and t.created_at > l.contacted_at
  and t.created_at >= timestamp(cast(f.score_date as date))
  and t.created_at < timestamp(date_add(cast(f.score_date as date), interval {{ days }} day))
  and (l.mql_at is null or l.mql_at < l.contacted_at or t.created_at <= l.mql_at)
where f.prob is not null
  and cast(f.score_date as date) between date(l.contacted_at)
    and date_add(date(l.contacted_at), interval {{ near_contact_days }} day)
  and timestamp(date_add(cast(f.score_date as date), interval {{ days }} day)) <= l.as_of
  and (l.mql_at is null or l.mql_at < l.contacted_at or l.mql_at >= timestamp(cast(f.score_date as date)))
group by f.lead_id, f.score_date, f.prob, f.tier, f.backfilled, d.OwnerId, d.Owner_Name
