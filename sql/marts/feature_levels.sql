-- The most frequent levels of one categorical source among training rows (positive or negative labels),
-- used to learn one-hot columns. {{ source_sql }} reads r (rep snapshot) or l (Lead).
select value, count(*) as n
from (
  select {{ source_sql }} as value
  from ml.lead_labels{{ build }} as lb
  inner join ml.lead_snapshot_choice{{ build }} as p on lb.lead_id = p.lead_id
  inner join marts.dim_leads as l on lb.lead_id = l.Id
  left join marts.dim_rep_snapshots as r on r.snapshot_month = p.snapshot_month and r.RepCRD = lb.crd
  where lb.label_status in ('positive', 'negative')
)
where value is not null
group by value
order by n desc, value
limit {{ top_k }}
