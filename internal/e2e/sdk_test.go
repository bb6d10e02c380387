package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/tetherhq/tether/internal/testenv"
)

func sdkClient(s *testenv.Server) *ssm.Client {
	p := s.Profile()
	return ssm.New(ssm.Options{
		Region:       p.Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, ""),
	})
}

// TestAWSSDK drives the official AWS SDK for Go v2 ssm client against tetherd.
func TestAWSSDK(t *testing.T) {
	s := testenv.StartDev(t)
	c := sdkClient(s)
	ctx := t.Context()

	st, err := c.GetConnectionStatus(ctx, &ssm.GetConnectionStatusInput{Target: aws.String(s.InstanceID)})
	if err != nil || st.Status != types.ConnectionStatusConnected || aws.ToString(st.Target) != s.InstanceID {
		t.Fatalf("GetConnectionStatus: %+v %v", st, err)
	}

	di, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	if err != nil || len(di.InstanceInformationList) != 1 {
		t.Fatalf("DescribeInstanceInformation: %+v %v", di, err)
	}
	ii := di.InstanceInformationList[0]
	if aws.ToString(ii.InstanceId) != s.InstanceID || ii.PingStatus != types.PingStatusOnline || ii.PlatformType != types.PlatformTypeLinux ||
		ii.ResourceType != types.ResourceTypeManagedInstance || ii.LastPingDateTime == nil || ii.RegistrationDate == nil {
		t.Fatalf("instance: %+v", ii)
	}
	// The legacy filter list and the paginator work too.
	di, err = c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
		InstanceInformationFilterList: []types.InstanceInformationFilter{{Key: types.InstanceInformationFilterKeyPingStatus, ValueSet: []string{"Online"}}},
	})
	if err != nil || len(di.InstanceInformationList) != 1 {
		t.Fatalf("legacy filter: %+v %v", di, err)
	}

	start, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(s.InstanceID), Reason: aws.String("sdk test")})
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	sid := aws.ToString(start.SessionId)
	if !strings.HasPrefix(sid, "admin-") || aws.ToString(start.TokenValue) == "" ||
		!strings.HasPrefix(aws.ToString(start.StreamUrl), "ws://127.0.0.1:") || !strings.Contains(aws.ToString(start.StreamUrl), "/v1/data-channel/"+sid) {
		t.Fatalf("StartSession output: %+v", start)
	}

	ds, err := c.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: types.SessionStateActive,
		Filters: []types.SessionFilter{{Key: types.SessionFilterKeyTargetId, Value: aws.String(s.InstanceID)}}})
	if err != nil || len(ds.Sessions) != 1 {
		t.Fatalf("DescribeSessions Active: %+v %v", ds, err)
	}
	got := ds.Sessions[0]
	if aws.ToString(got.SessionId) != sid || got.Status != types.SessionStatusConnecting || aws.ToString(got.Reason) != "sdk test" ||
		got.StartDate == nil || !strings.HasSuffix(aws.ToString(got.Owner), ":user/admin") || aws.ToString(got.DocumentName) != "SSM-SessionManagerRunShell" {
		t.Fatalf("session: %+v", got)
	}

	term, err := c.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(sid)})
	if err != nil || aws.ToString(term.SessionId) != sid {
		t.Fatalf("TerminateSession: %+v %v", term, err)
	}
	ds, err = c.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: types.SessionStateHistory})
	if err != nil || len(ds.Sessions) != 1 || ds.Sessions[0].Status != types.SessionStatusTerminated || ds.Sessions[0].EndDate == nil {
		t.Fatalf("DescribeSessions History: %+v %v", ds, err)
	}

	// Pagination: five more sessions, pages of two.
	for range 5 {
		if _, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(s.InstanceID)}); err != nil {
			t.Fatal(err)
		}
	}
	pages, total := 0, 0
	p := ssm.NewDescribeSessionsPaginator(c, &ssm.DescribeSessionsInput{State: types.SessionStateActive, MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total += len(page.Sessions)
	}
	if pages != 3 || total != 5 {
		t.Fatalf("paginated %d sessions in %d pages, want 5 in 3", total, pages)
	}

	// Errors arrive with AWS's codes.
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"unknown target", func() error {
			_, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String("mi-00000000000000000")})
			return err
		}, "TargetNotConnected"},
		{"bad state", func() error {
			_, err := c.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: "Sideways"})
			return err
		}, "ValidationException"},
		{"bad next token", func() error {
			_, err := c.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: types.SessionStateActive, NextToken: aws.String("garbage")})
			return err
		}, "InvalidNextToken"},
		{"unknown document", func() error {
			_, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(s.InstanceID), DocumentName: aws.String("No-Such-Doc")})
			return err
		}, "InvalidDocument"},
		{"bad instance filter", func() error {
			_, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
				Filters: []types.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{"i-nope"}}}})
			return err
		}, "InvalidInstanceId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}

	t.Run("activations, tags and documents", func(t *testing.T) {
		act, err := c.CreateActivation(ctx, &ssm.CreateActivationInput{IamRole: aws.String("r"), DefaultInstanceName: aws.String("sdk"),
			RegistrationLimit: aws.Int32(2), Tags: []types.Tag{{Key: aws.String("Team"), Value: aws.String("sdk")}}})
		if err != nil || aws.ToString(act.ActivationId) == "" || aws.ToString(act.ActivationCode) == "" {
			t.Fatalf("CreateActivation: %+v %v", act, err)
		}
		da, err := c.DescribeActivations(ctx, &ssm.DescribeActivationsInput{})
		if err != nil || len(da.ActivationList) < 1 {
			t.Fatalf("DescribeActivations: %+v %v", da, err)
		}
		if _, err := c.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: types.ResourceTypeForTaggingManagedInstance,
			ResourceId: aws.String(s.InstanceID), Tags: []types.Tag{{Key: aws.String("Environment"), Value: aws.String("Development")}}}); err != nil {
			t.Fatal(err)
		}
		lt, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingManagedInstance, ResourceId: aws.String(s.InstanceID)})
		if err != nil || len(lt.TagList) != 1 || aws.ToString(lt.TagList[0].Value) != "Development" {
			t.Fatalf("ListTagsForResource: %+v %v", lt, err)
		}
		content := `{"schemaVersion":"1.0","description":"sdk","sessionType":"NonInteractiveCommands","properties":{"linux":{"commands":"uptime"}}}`
		cd, err := c.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String("Sdk-Uptime"), Content: aws.String(content),
			DocumentType: types.DocumentTypeSession, DocumentFormat: types.DocumentFormatJson})
		if err != nil || aws.ToString(cd.DocumentDescription.DocumentVersion) != "1" || cd.DocumentDescription.DocumentType != types.DocumentTypeSession {
			t.Fatalf("CreateDocument: %+v %v", cd, err)
		}
		gd, err := c.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String("Sdk-Uptime")})
		if err != nil || aws.ToString(gd.Content) != content {
			t.Fatalf("GetDocument: %+v %v", gd, err)
		}
		ld, err := c.ListDocuments(ctx, &ssm.ListDocumentsInput{Filters: []types.DocumentKeyValuesFilter{{Key: aws.String("Owner"), Values: []string{"Self"}}}})
		if err != nil || len(ld.DocumentIdentifiers) != 1 {
			t.Fatalf("ListDocuments: %+v %v", ld, err)
		}
		_, err = c.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String("Sdk-Bad"), Content: aws.String(`{"schemaVersion":"1.0","sessionType":"Shell"}`),
			DocumentType: types.DocumentTypeSession})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidDocumentContent" || !strings.Contains(ae.ErrorMessage(), "sessionType") {
			t.Fatalf("bad document: %v", err)
		}
		if _, err := c.DeleteDocument(ctx, &ssm.DeleteDocumentInput{Name: aws.String("Sdk-Uptime")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: act.ActivationId}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		p := s.Profile()
		bad := ssm.New(ssm.Options{Region: p.Region, BaseEndpoint: aws.String(s.URL),
			Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, "not-the-secret", "")})
		_, err := bad.GetConnectionStatus(ctx, &ssm.GetConnectionStatusInput{Target: aws.String(s.InstanceID)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
			t.Fatalf("got %v", err)
		}
	})
}
