"""Loading MarketPro territory exports and Salesforce Lead exports into the warehouse."""
