package apperr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
)

func TestCodeOf(t *testing.T) {
	t.Parallel()
	base := apperr.Errorf(apperr.NotFound, "lead %s not found", "x")
	wrapped := fmt.Errorf("load lead: %w", base)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(wrapped))
	require.True(t, apperr.Is(wrapped, apperr.NotFound))
	require.Equal(t, apperr.Internal, apperr.CodeOf(errors.New("boom")))
	require.Equal(t, apperr.Code(""), apperr.CodeOf(nil))

	cause := errors.New("driver said no")
	w := apperr.Wrap(cause, apperr.Unavailable, "database unavailable")
	require.ErrorIs(t, w, cause)
	require.Equal(t, "database unavailable: driver said no", w.Error())
}

func ExampleErrorf() {
	err := fmt.Errorf("change stage: %w", apperr.Errorf(apperr.Conflict, "lead cannot move from %s to %s", "new", "converted").
		With("allowed", []string{"qualified", "nurture", "disqualified", "lost"}))
	e, _ := apperr.As(err)
	fmt.Println(e.Code, e.Message, e.Extra["allowed"])
	// Output: conflict lead cannot move from new to converted [qualified nurture disqualified lost]
}
