package httpapi

// observabilityRoutes registers the queue observability routes.
func (s *Server) observabilityRoutes(router) {}
