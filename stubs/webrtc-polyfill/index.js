'use strict'
// Exports undefined RTC classes: simple-peer then reports WebRTC as unsupported and webtorrent uses TCP only.
module.exports = { RTCPeerConnection: undefined, RTCSessionDescription: undefined, RTCIceCandidate: undefined, default: undefined }
