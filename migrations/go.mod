module example.com/crm/migrations

go 1.27.3
