module example.com/crm/migrations

go 1.26.8
