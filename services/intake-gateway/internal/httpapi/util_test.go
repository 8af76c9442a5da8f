package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// decodeID reads the intakeId of an answer ("" when there is none).
func decodeID(r io.Reader) string {
	var m struct {
		IntakeID string `json:"intakeId"`
	}
	_ = json.NewDecoder(r).Decode(&m)
	return m.IntakeID
}
