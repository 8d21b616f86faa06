-- One Lead as the people asked about it know it (Tier lists → Find a lead; `python -m core lead ID`): the
-- advisor's firm, title and place, the owner and status from the loaded Lead export (names, emails and phones
-- never reach the warehouse), its contact and MQL times and label from ml.lead_labels, and the experiment tag
-- recorded in Salesforce. No row: {{ lead_id }} is not in the loaded export.
select
  d.Id as lead_id,
  d.Title as title,
  d.Company as company,
  d.City as city,
  d.State as state,
  d.Owner_Name as owner_name,
  d.Status as status,
  d.Experimentation_Tag__c as experiment_tag,
  l.contacted_at,
  l.mql_at,
  l.label_status,
  l.as_of
from marts.dim_leads as d
left join ml.lead_labels as l on l.lead_id = d.Id
where d.Id = {{ lead_id }}
