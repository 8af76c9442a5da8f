module example.com/crm/services/scheduler

go 1.26.8
