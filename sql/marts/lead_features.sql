-- The feature matrix: one row per contacted lead (up to as_of), every column a catalog feature computed
-- from the rep's point-in-time snapshot (r), the Lead's fields known at contact (l) and the contact time.
-- Only catalog features are selected: no other column of the sources can reach the model.
create or replace table ml.lead_features{{ build }}
partition by timestamp_trunc(contacted_at, month)
cluster by lead_id
as
select
  lb.lead_id,
  lb.contacted_at,
  lb.label_status,
  lb.label,
  p.snapshot_month,
  p.snapshot_at_risk,
  {{ feature_columns }}
from ml.lead_labels{{ build }} as lb
inner join ml.lead_snapshot_choice{{ build }} as p on lb.lead_id = p.lead_id
inner join marts.dim_leads as l on lb.lead_id = l.Id
left join marts.dim_rep_snapshots as r on r.snapshot_month = p.snapshot_month and r.RepCRD = lb.crd
where lb.label_status != 'contacted_after_as_of'
