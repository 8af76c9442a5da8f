package db

import "github.com/google/uuid"

// UUIDs is ids as a uuid[] argument in the form pgx encodes without reflection: an array of
// [16]byte, which it sends as binary. A []uuid.UUID would reach it element by element as
// driver.Valuers, each turned into text and parsed back.
func UUIDs(ids []uuid.UUID) [][16]byte {
	out := make([][16]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
