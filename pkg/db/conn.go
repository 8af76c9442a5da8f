package db

import "gorm.io/gorm"

// Conn returns the connection (or transaction) underneath g, for statements that must bypass
// gorm's argument rewriting: PostgreSQL arrays passed as $n parameters, say. Statements run on
// it take part in g's transaction when g is one.
func Conn(g *gorm.DB) gorm.ConnPool {
	return g.Statement.ConnPool
}
