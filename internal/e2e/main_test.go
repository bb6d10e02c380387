package e2e

import (
	"testing"

	"github.com/tetherhq/tether/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
