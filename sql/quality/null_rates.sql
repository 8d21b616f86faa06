-- Share of NULL per column of one table; columns are listed by the engine from the contract.
select {{ null_rate_columns }}
from {{ table_name }}
