package fleet

import (
	"encoding/base64"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 49, 50, 1000, math.MaxInt32, math.MaxInt} {
		tok := EncodeToken(n)
		if strings.ContainsAny(tok, "+/= \n") || tok == "" {
			t.Errorf("EncodeToken(%d) = %q; want a non-empty URL-safe token", n, tok)
		}
		got, err := DecodeToken(tok)
		if err != nil || got != n {
			t.Errorf("DecodeToken(EncodeToken(%d)) = %d, %v", n, got, err)
		}
	}
}

func TestDecodeTokenRejects(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	valid := EncodeToken(50)
	for _, tok := range []string{
		"",
		"!!!!",
		"not a token",
		valid + "=", // padded
		valid[:len(valid)-1] + "*",
		enc([]byte("50")),                        // no prefix
		enc([]byte("x:50")),                      // wrong prefix
		enc([]byte("O:50")),                      // prefix is case-sensitive
		enc([]byte("o:")),                        // no number
		enc([]byte("o:-1")),                      // negative
		enc([]byte("o:abc")),                     // not a number
		enc([]byte("o:5 ")),                      // trailing junk
		enc([]byte("o:0x10")),                    // not decimal
		enc([]byte("o:1e3")),                     // not an integer
		enc([]byte("o:99999999999999999999999")), // overflows int
		base64.StdEncoding.EncodeToString([]byte("o:5?>")), // standard alphabet
	} {
		if n, err := DecodeToken(tok); err == nil {
			t.Errorf("DecodeToken(%q) = %d; want an error", tok, n)
		}
	}
}

func TestPaginate(t *testing.T) {
	list := make([]int, 120)
	for i := range list {
		list[i] = i
	}
	// Walking every page with the default size returns the list once, in order.
	var all []int
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		page, next, err := Paginate(list, tok, 0, 50, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 50 {
			t.Fatalf("page of %d; want at most 50", len(page))
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		tok = next
	}
	if !slices.Equal(all, list) {
		t.Errorf("pages joined = %v; want 0..119", all)
	}

	tests := []struct {
		name     string
		token    string
		max      int
		want     []int
		wantNext bool
		wantErr  bool
	}{
		{name: "max above limit is capped", max: 500, want: list[:50], wantNext: true},
		{name: "small page", max: 5, want: list[:5], wantNext: true},
		{name: "from a token", token: EncodeToken(115), max: 10, want: list[115:], wantNext: false},
		{name: "token at the end", token: EncodeToken(120), max: 10, want: []int{}, wantNext: false},
		{name: "token past the end", token: EncodeToken(121), wantErr: true},
		{name: "garbage token", token: "garbage", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, next, err := Paginate(list, tt.token, tt.max, 50, 50)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "InvalidNextToken") {
					t.Fatalf("Paginate = %v, %q, %v; want InvalidNextToken", page, next, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(page, tt.want) || (next != "") != tt.wantNext {
				t.Errorf("Paginate = %v, %q; want %v, next %v", page, next, tt.want, tt.wantNext)
			}
		})
	}
}

var instanceIDForm = regexp.MustCompile(`^mi-[0-9a-f]{17}$`)

func TestNewInstanceID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewInstanceID()
		if !instanceIDForm.MatchString(id) || !ValidInstanceID(id) {
			t.Fatalf("NewInstanceID() = %q; want mi- and 17 lower-case hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewInstanceID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidInstanceID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"mi-0123456789abcdef0", true},
		{"mi-00000000000000000", true},
		{"mi-fffffffffffffffff", true},
		{"mi-0123456789ABCDEF0", false},  // upper case
		{"mi-0123456789abcdef", false},   // 16 digits
		{"mi-0123456789abcdef01", false}, // 18 digits
		{"i-0123456789abcdef0", false},   // EC2 instance
		{"MI-0123456789abcdef0", false},
		{"mi-0123456789abcdefg", false},
		{"mi-0123456789abcdef0\n", false},
		{" mi-0123456789abcdef0", false},
		{"mi-", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidInstanceID(tt.id); got != tt.want {
			t.Errorf("ValidInstanceID(%q) = %v; want %v", tt.id, got, tt.want)
		}
	}
}
