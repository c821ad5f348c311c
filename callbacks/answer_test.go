package callbacks

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAnswerAcceptsTheThreeShapes(t *testing.T) {
	for _, test := range []struct {
		body       string
		result     string
		error      *AnswerError
		disconnect *Disconnect
	}{
		{`{"result":{"data":[1,2]}}`, `{"data":[1,2]}`, nil, nil},
		{` {"result":0, "other":"ignored"} `, `0`, nil, nil},
		{`{"result":{},"error":null}`, `{}`, nil, nil},
		{`{"error":{"code":"nope","message":"not today"}}`, "", &AnswerError{"nope", "not today"}, nil},
		{`{"error":{"code":"nope"}}`, "", &AnswerError{Code: "nope"}, nil},
		{`{"disconnect":{"code":4000,"reason":"later"}}`, "", nil, &Disconnect{4000, "later"}},
		{`{"disconnect":{"code":4999}}`, "", nil, &Disconnect{Code: 4999}},
	} {
		answer, err := ParseAnswer([]byte(test.body))
		if err != nil {
			t.Errorf("ParseAnswer(%s): %v", test.body, err)
			continue
		}
		if string(answer.Result) != test.result {
			t.Errorf("ParseAnswer(%s).Result = %s, want %s", test.body, answer.Result, test.result)
		}
		if (answer.Error == nil) != (test.error == nil) || answer.Error != nil && *answer.Error != *test.error {
			t.Errorf("ParseAnswer(%s).Error = %+v, want %+v", test.body, answer.Error, test.error)
		}
		if (answer.Disconnect == nil) != (test.disconnect == nil) || answer.Disconnect != nil && *answer.Disconnect != *test.disconnect {
			t.Errorf("ParseAnswer(%s).Disconnect = %+v, want %+v", test.body, answer.Disconnect, test.disconnect)
		}
	}
}

func TestParseAnswerRefusesEverythingElse(t *testing.T) {
	for _, body := range []string{
		``, `null`, `[1]`, `"result"`, `{`, `{}`, `{"result":null}`,
		`{"result":1,"error":{"code":"x"}}`,
		`{"error":"nope"}`, `{"error":{"message":"no code"}}`, `{"error":{"code":7}}`,
		`{"disconnect":{"code":1000}}`, `{"disconnect":{"code":5000}}`, `{"disconnect":4000}`,
		`{"disconnect":{"code":4000,"reason":"` + strings.Repeat("x", MaxReasonSize+1) + `"}}`,
	} {
		if answer, err := ParseAnswer([]byte(body)); !errors.Is(err, ErrMalformedAnswer) {
			t.Errorf("ParseAnswer(%.40s) = %+v, %v; want ErrMalformedAnswer", body, answer, err)
		}
	}
}
