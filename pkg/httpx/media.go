package httpx

import (
	"strings"

	"example.com/crm/pkg/apperr"
)

// CheckCharset refuses (apperr.Unsupported, 415) a media type's charset parameter that is not
// UTF-8 or US-ASCII, its subset. Both services read bodies as UTF-8 and never transcode, so a
// body declared as another charset would be read as something its sender did not mean.
// params is what mime.ParseMediaType returns; no charset at all is UTF-8.
func CheckCharset(params map[string]string) error {
	cs, ok := params["charset"]
	if !ok {
		return nil
	}
	switch strings.ToLower(cs) {
	case "utf-8", "utf8", "us-ascii":
		return nil
	default:
		return apperr.Errorf(apperr.Unsupported, "charset %q is not accepted; send UTF-8", cs)
	}
}
