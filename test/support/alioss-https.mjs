// Drives the API with ali-oss over HTTPS in a process of its own, as a user would: the test CA
// comes from NODE_EXTRA_CA_CERTS (read by Node at start), nothing else is told to trust it.
// Usage: node alioss-https.mjs <endpoint> <bucket> <channel>; prints what it got as JSON.
import OSS from 'ali-oss';

const [endpoint, bucket, channel] = process.argv.slice(2);
// path-style (sldEnable), as for any endpoint that cannot take a bucket label: the certificate names localhost
const client = new OSS({ endpoint, bucket, accessKeyId: process.env.KEY_ID, accessKeySecret: process.env.KEY_SECRET, sldEnable: true });
const put = await client.putChannel(channel, { Description: 'over https', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '3', PlaylistName: 'playlist.m3u8' } });
const info = await client.getChannel(channel);
console.log(JSON.stringify({ status: put.res.status, publishUrls: put.publishUrls, description: info.data.Description }));
