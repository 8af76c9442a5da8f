module example.com/crm/services/api

go 1.26.8
