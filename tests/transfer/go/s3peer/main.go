// Command s3peer moves one object with the AWS Go SDK v2's S3 transfer manager,
// using the manager's defaults (5 MiB parts, concurrency 5). Tests use it as a
// reference peer for our own transfers.
//
//	s3peer upload <bucket> <key> <file> [meta=k=v ...]
//	s3peer download <bucket> <key> <file>
//
// The endpoint comes from AWS_ENDPOINT_URL (path-style addressing), the region
// from AWS_REGION and static credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN optional). Both commands print the
// object's user metadata and ETag as JSON on stdout; on failure the error goes
// to stderr and the exit status is non-zero.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const usage = "usage: s3peer upload <bucket> <key> <file> [meta=k=v ...]\n" +
	"       s3peer download <bucket> <key> <file>"

type report struct {
	Metadata map[string]string `json:"metadata"`
	ETag     string            `json:"etag"`
	Size     int64             `json:"size"`
}

func newClient() (*s3.Client, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return nil, errors.New("AWS_REGION is not set")
	}
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	options := s3.Options{
		Region: region,
		Credentials: aws.NewCredentialsCache(
			credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN"))),
		UsePathStyle: true,
	}
	if endpoint := os.Getenv("AWS_ENDPOINT_URL"); endpoint != "" {
		options.EndpointResolver = s3.EndpointResolverFromURL(endpoint, func(e *aws.Endpoint) {
			e.HostnameImmutable = true
			e.SigningRegion = region
		})
	}
	return s3.New(options), nil
}

func parseMetadata(args []string) (map[string]string, error) {
	metadata := map[string]string{}
	for _, arg := range args {
		pair := strings.TrimPrefix(arg, "meta=")
		k, v, ok := strings.Cut(pair, "=")
		if pair == arg || !ok || k == "" {
			return nil, fmt.Errorf("bad metadata argument %q (want meta=key=value)", arg)
		}
		metadata[k] = v
	}
	return metadata, nil
}

func describe(ctx context.Context, client *s3.Client, bucket, key string) (report, error) {
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return report{}, fmt.Errorf("head s3://%s/%s: %w", bucket, key, err)
	}
	out := report{Metadata: head.Metadata, ETag: strings.Trim(aws.ToString(head.ETag), `"`), Size: head.ContentLength}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	return out, nil
}

func upload(ctx context.Context, client *s3.Client, bucket, key, path string, metadata map[string]string) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	uploader := manager.NewUploader(client)
	_, err = uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket:   &bucket,
		Key:      &key,
		Body:     file,
		Metadata: metadata,
	})
	if err != nil {
		return fmt.Errorf("upload %s to s3://%s/%s: %w", path, bucket, key, err)
	}
	return nil
}

func download(ctx context.Context, client *s3.Client, bucket, key, path string) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	downloader := manager.NewDownloader(client)
	_, err = downloader.Download(ctx, file, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("download s3://%s/%s to %s: %w", bucket, key, path, err)
	}
	return nil
}

func run(args []string) error {
	if len(args) < 4 {
		return errors.New(usage)
	}
	command, bucket, key, path := args[0], args[1], args[2], args[3]
	ctx := context.Background()
	client, err := newClient()
	if err != nil {
		return err
	}
	switch command {
	case "upload":
		metadata, err := parseMetadata(args[4:])
		if err != nil {
			return err
		}
		if err := upload(ctx, client, bucket, key, path, metadata); err != nil {
			return err
		}
	case "download":
		if len(args) != 4 {
			return errors.New(usage)
		}
		if err := download(ctx, client, bucket, key, path); err != nil {
			return err
		}
	default:
		return errors.New(usage)
	}
	out, err := describe(ctx, client, bucket, key)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "s3peer:", err)
		os.Exit(1)
	}
}
