-- Matured leads (label known: positive or negative) contacted since scoring began whose first score did not come
-- within {{ near_contact_days }} days of contact, with their features: mostly leads that booked their MQL before
-- the first scoring run after their contact (the next morning in daily runs, up to a week in a weekly backfill) and
-- so never reached a call list. Monitoring's calibration scores them with the champion from these point-in-time
-- features: judged only on the leads still open when scored, the model looked miscalibrated (the MQLs booked before
-- the first score left out while every negative stayed in: 42% of the MQLs on the full-scale demo's weekly backfill).
select f.*
from ml.lead_features as f
left join {{ first_scores }} as s
  on s.lead_id = f.lead_id
  and cast(s.score_date as date) between date(f.contacted_at)
    and date_add(date(f.contacted_at), interval {{ near_contact_days }} day)
where f.label_status in ('positive', 'negative')
  and f.contacted_at >= {{ since }}
  and f.contacted_at <= {{ as_of }}
  and s.lead_id is null
