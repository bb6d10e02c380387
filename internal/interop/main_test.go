package interop

import (
	"testing"

	"github.com/tetherhq/tether/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
