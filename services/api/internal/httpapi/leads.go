package httpapi

// leadRoutes registers the lead routes.
func (s *Server) leadRoutes(router) {}
