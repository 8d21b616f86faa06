-- Stage 3: contacted leads whose CRD is not in the current MarketPro snapshot, for targeted searches.
select
  l.Id as lead_id,
  l.FA_CRD__c as crd,
  l.State as state,
  l.Stage_Entered_Contacting__c as contacted_at
from marts.dim_leads as l
left join marts.dim_reps_current as r on l.FA_CRD__c = r.RepCRD
where l.Stage_Entered_Contacting__c is not null
  and l.FA_CRD__c is not null
  and r.RepCRD is null
order by l.Stage_Entered_Contacting__c desc
