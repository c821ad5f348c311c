package history_test

import (
	"testing"

	"github.com/wsgate/wsgate/history"
)

func TestRecoveredNeedsEveryPublicationOfTheSameEpoch(t *testing.T) {
	publications := func(offsets ...uint64) []history.Publication {
		list := make([]history.Publication, len(offsets))
		for index, offset := range offsets {
			list[index] = history.Publication{Offset: offset, Data: []byte("1")}
		}
		return list
	}
	from := history.Position{Offset: 3, Epoch: "e"}
	for name, test := range map[string]struct {
		publications []history.Publication
		top          history.Position
		want         bool
	}{
		"all missed ones":          {publications(4, 5, 6), history.Position{Offset: 6, Epoch: "e"}, true},
		"nothing missed":           {nil, history.Position{Offset: 3, Epoch: "e"}, true},
		"another epoch":            {publications(4, 5, 6), history.Position{Offset: 6, Epoch: "f"}, false},
		"oldest trimmed":           {publications(5, 6), history.Position{Offset: 6, Epoch: "e"}, false},
		"limit hit":                {publications(4, 5), history.Position{Offset: 6, Epoch: "e"}, false},
		"a hole":                   {publications(4, 6, 7), history.Position{Offset: 6, Epoch: "e"}, false},
		"client ahead of the top":  {nil, history.Position{Offset: 2, Epoch: "e"}, false},
		"stream restarted, no pub": {nil, history.Position{Offset: 0, Epoch: "f"}, false},
	} {
		if got := history.Recovered(from, test.publications, test.top); got != test.want {
			t.Errorf("%s: Recovered = %v, want %v", name, got, test.want)
		}
	}
}
