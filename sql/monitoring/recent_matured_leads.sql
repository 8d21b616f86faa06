-- Recalibration (spec §9.3 playbook step 3, "recompute calibration with the last 30 days"): the matured leads
-- contacted in the {{ days }} days up to {{ as_of }} — the newest contact whose 30-day outcome window has closed, so
-- every lead's label is known (an MQL booked early by a lead contacted later would favour the positives) — with
-- their point-in-time features, oldest first: the newer half is held out to judge the new calibration.
select f.*
from ml.lead_features as f
where f.label_status in ('positive', 'negative')
  and f.contacted_at <= {{ as_of }}
  and f.contacted_at > timestamp_sub({{ as_of }}, interval {{ days }} day)
order by f.contacted_at, f.lead_id
