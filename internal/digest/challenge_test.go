package digest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	atlasChallenge    = `Digest realm="MMS Public API", domain="", nonce="OUNAtEGUVnGi+FjgvHa6yEG1hQPiUBfQ", algorithm=MD5, qop="auth", stale=false`
	apacheChallenge   = `Digest realm="MMS Public API", nonce="P6HNnj9hBgA=1a40145846f71cc932e49f774b204899888548f8", algorithm=MD5, qop="auth"`
	lighttpdChallenge = `Digest realm="MMS Public API", charset="UTF-8", algorithm=SHA-256, nonce="6b095ddc:79292500d42c6e15d9405dccb9a838815c40880c191b3b29bcef7ffa8c2759f3", qop="auth"`
)

func TestParseChallengesRealServers(t *testing.T) {
	chs, err := ParseChallenges([]string{atlasChallenge})
	require.NoError(t, err)
	require.Len(t, chs, 1)
	assert.Equal(t, Challenge{Realm: "MMS Public API", Nonce: "OUNAtEGUVnGi+FjgvHa6yEG1hQPiUBfQ", Algorithm: "MD5",
		QOP: []string{"auth"}}, chs[0])

	chs, err = ParseChallenges([]string{apacheChallenge, lighttpdChallenge + ", userhash=true, stale=TRUE"})
	require.NoError(t, err)
	require.Len(t, chs, 2)
	assert.Equal(t, "P6HNnj9hBgA=1a40145846f71cc932e49f774b204899888548f8", chs[0].Nonce)
	assert.Equal(t, Challenge{Realm: "MMS Public API", Charset: "UTF-8", Algorithm: "SHA-256",
		Nonce: "6b095ddc:79292500d42c6e15d9405dccb9a838815c40880c191b3b29bcef7ffa8c2759f3",
		QOP:   []string{"auth"}, UserHash: true, Stale: true}, chs[1])
}

func TestParseChallengesTolerance(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		want   []Challenge
	}{
		{"lower-case scheme and names, unquoted values",
			[]string{`digest REALM=r, Nonce=abc/def+=, ALGORITHM=sha-256-SESS, qop=auth`},
			[]Challenge{{Realm: "r", Nonce: "abc/def+=", Algorithm: "SHA-256-sess", QOP: []string{"auth"}}}},
		{"blanks around = and ,",
			[]string{"Digest  realm = \"r\" ,\tnonce\t=\t\"n\" , opaque= \"o\" ,qop = \" auth , auth-int \""},
			[]Challenge{{Realm: "r", Nonce: "n", Opaque: "o", QOP: []string{"auth", "auth-int"}}}},
		{"escaped quotes and commas inside quotes",
			[]string{`Digest realm="a \"quoted\", realm\\", nonce="n,1"`},
			[]Challenge{{Realm: `a "quoted", realm\`, Nonce: "n,1"}}},
		{"empty and unknown params",
			[]string{`Digest realm="r", domain="", foo=, bar="baz", nonce="n", x=y`},
			[]Challenge{{Realm: "r", Nonce: "n"}}},
		{"missing commas between params",
			[]string{`Digest realm="r" nonce="n" qop="auth"`},
			[]Challenge{{Realm: "r", Nonce: "n", QOP: []string{"auth"}}}},
		{"Basic before Digest in one value",
			[]string{`Basic realm="x", Digest realm="r", nonce="n", algorithm=MD5`},
			[]Challenge{{Realm: "r", Nonce: "n", Algorithm: "MD5"}}},
		{"two Digest challenges in one value, token68 scheme between",
			[]string{`Digest realm="r", nonce="1", algorithm=SHA-256, Negotiate abc/def==, Digest realm="r", nonce="2"`},
			[]Challenge{{Realm: "r", Nonce: "1", Algorithm: "SHA-256"}, {Realm: "r", Nonce: "2"}}},
		{"several header values, bare scheme",
			[]string{`Negotiate`, `Bearer realm="x", error="invalid_token"`, `Digest realm="r",nonce="n",stale=true`},
			[]Challenge{{Realm: "r", Nonce: "n", Stale: true}}},
		{"no digest at all", []string{`Basic realm="x"`, ``, `  ,, `}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chs, err := ParseChallenges(tc.values)
			require.NoError(t, err)
			assert.Equal(t, tc.want, chs)
		})
	}
}

func TestParseChallengesMalformed(t *testing.T) {
	for _, v := range []string{
		`Digest realm="r", nonce="n`,     // unterminated quote
		`Digest realm="r", nonce="n\`,    // dangling escape
		`Digest nonce="n", qop="auth"`,   // no realm
		`Digest realm="r", qop="auth"`,   // no nonce
		`Digest realm="", nonce="n"`,     // empty realm
		`Digest realm="r", nonce=""`,     // empty nonce
		`realm="r", nonce="n"`,           // params before a scheme
		`Digest realm=r"x", nonce="n"`,   // quote inside a token
		`Digest realm="r", nonce="n", =`, // stray "="
	} {
		t.Run(v, func(t *testing.T) {
			chs, err := ParseChallenges([]string{v})
			require.Error(t, err)
			require.ErrorIs(t, err, ErrMalformedChallenge)
			assert.Empty(t, chs)
		})
	}

	// A good challenge survives next to a broken one, with the error reported.
	chs, err := ParseChallenges([]string{`Digest qop="auth"`, atlasChallenge})
	require.Error(t, err)
	require.Len(t, chs, 1)
	assert.Equal(t, "MMS Public API", chs[0].Realm)
	assert.Contains(t, err.Error(), "without realm")
}

func TestParseParamsAuthenticationInfo(t *testing.T) {
	ps, err := parseParams(`rspauth="24be6e06", cnonce="Njg4", nc=00000001, qop=auth, nextnonce="abc=="`)
	require.NoError(t, err)
	require.Len(t, ps, 5)
	assert.Equal(t, authParam{"nextnonce", "abc=="}, ps[4])
	_, err = parseParams(`nextnonce`)
	require.Error(t, err)
}

func FuzzParseChallenge(f *testing.F) {
	for _, s := range []string{
		atlasChallenge, apacheChallenge, lighttpdChallenge,
		lighttpdChallenge + ", userhash=true",
		`Digest realm="MMS Public API", nonce="P6HNnj9hBgA=1a40", algorithm=MD5, stale=true, qop="auth"`,
		`Digest realm="MMS Public API", nonce="x", opaque="1", algorithm=MD5, qop="auth"`,
		`Basic realm="x", Digest realm="r", nonce="n", algorithm=SHA-512-256-sess, qop="auth,auth-int"`,
		`Digest realm="r", nonce="1", Digest realm="r", nonce="2", algorithm=SHA-256`,
		`Digest realm="r", nonce="n`, `Digest realm="\`, `Digest ,,,=,=`, `"`, `=`, `Digest realm=""`,
		`Negotiate abc/def==, Digest realm=r nonce=n`, "Digest realm=\"\x00\", nonce=\"\xff\"",
		`Digest realm="r", nonce="n", algorithm=SHA-1`, `Digest realm="r", nonce="n", qop="auth-conf"`,
		`digest REALM = "a \"b\"" , NONCE = "n" , USERHASH = TRUE`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		chs, err := ParseChallenges([]string{s})
		if err != nil && !strings.Contains(err.Error(), "malformed challenge") {
			t.Fatalf("error does not say what is wrong: %v", err)
		}
		for _, ch := range chs {
			if ch.Nonce == "" || ch.Realm == "" {
				t.Fatalf("challenge with empty nonce or realm: %#v", ch)
			}
			// Whatever was parsed must be safe to sign with.
			if e, err := newEntry("user", "pass", ch); err == nil {
				if _, err := e.authorization("GET", "/x", []byte("body")); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(chs) > 0 {
			_, _ = pickChallenge(chs, nil)
		}
		_, _ = parseParams(s)
	})
}
